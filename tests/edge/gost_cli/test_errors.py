"""Bad input and usage errors: a non-zero exit code and one line on stderr, never a traceback.

The contract itself (one ``klyuch gost: ...`` line, no traceback) is asserted by
``Tools.klyuch`` on every failing run; these tests pick the inputs and the exit codes.
"""

from __future__ import annotations

import pytest

from edge.gost_cli import main
from edge.gost_cli.app import COMMANDS
from tests.edge.gost_cli.conftest import Tools

GARBAGE_PEM = b"-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END PRIVATE KEY-----\n"


def test_help_for_every_command(tools: Tools, capsys: pytest.CaptureFixture[str]) -> None:
    assert "genkey" in tools.klyuch("--help").text
    assert tools.klyuch("x509", "--help").text.startswith("usage: klyuch gost x509")
    for command in COMMANDS:  # the rest in process: the same code, without a process per command
        assert main([command, "--help"]) == 0
        assert capsys.readouterr().out.startswith(f"usage: klyuch gost {command}")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "a COMMAND is needed"),
        (["frobnicate"], "invalid choice"),
        (["genkey", "-p", "Q"], "unknown parameter set 'Q'"),
        (["genkey", "-a", "gost2012_512", "-p", "TCA"], "unknown parameter set 'TCA'"),
        (["genkey", "-a", "dsa"], "unknown key algorithm"),
        (["genkey", "-bogus"], "genkey: unrecognized arguments: -bogus"),
        (["pubkey"], "the following arguments are required: -in"),
        (["dgst", "-md", "md5"], "unknown digest 'md5'"),
        (["dgst", "-hmac", "xyz"], "-hmac key is not a hex string"),
        (["enc", "-cipher", "kuznyechik-ctr", "-K", "zz", "-iv", "00"], "-K is not a hex string"),
        (["enc", "-cipher", "kuznyechik-ctr", "-K", "00" * 31, "-iv", "00" * 8], "-K must be 32 bytes"),
        (["enc", "-cipher", "magma-ctr", "-K", "00" * 32, "-iv", "00" * 8], "CTR IV must be 4 bytes"),
        (["enc", "-cipher", "magma-cbc", "-K", "00" * 32], "needs -iv"),
        (["enc", "-cipher", "des-cbc", "-K", "00" * 32], "unknown cipher"),
        (["genkey", "-a", "rsa1024"], "outside 2048..8192"),
        (["req", "-verify"], "-verify needs -in"),
        (["x509", "-in", "c.pem", "-days", "5"], "signing options need -req"),
        (["x509", "-req", "-in", "r.pem", "-selfsign", "-key", "k", "-days", "99999999"], "more than 73000"),
        (["x509", "-req", "-in", "r.pem"], "either -selfsign"),
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    """In process (the subprocess contract is checked by the tests around): exit 2, one line."""
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith("klyuch gost: "), captured.err
    assert message in captured.err, captured.err


def test_usage_errors_in_a_process(tools: Tools) -> None:
    assert "COMMAND is needed" in tools.klyuch(expect=2).stderr
    assert "unknown parameter set 'Q'" in tools.klyuch("genkey", "-p", "Q", expect=2).stderr
    assert (
        "-K is not a hex string"
        in tools.klyuch("enc", "-magma-ctr", "-K", "zz", "-iv", "00", expect=2).stderr
    )


def test_bad_input_exits_1(tools: Tools) -> None:
    tools.write("garbage.pem", GARBAGE_PEM)
    tools.write("random.bin", bytes(range(256)))
    tools.write("doc.txt", b"data")
    tools.klyuch("genkey", "-o", "key.pem")
    tools.klyuch("pubkey", "-in", "key.pem", "-o", "pub.pem")
    cases = [
        (["pubkey", "-in", "missing.pem"], "cannot read private key missing.pem"),
        (["pubkey", "-in", "garbage.pem"], "malformed"),
        (["pubkey", "-in", "random.bin"], "malformed"),
        (["pubkey", "-in", "pub.pem"], "expected PEM PRIVATE KEY"),
        (["sign", "-key", "key.pem", "-in", "missing.txt"], "cannot read input missing.txt"),
        (["sign", "-key", "key.pem", "-hash", "random.bin"], "must hold a 32-byte streebog256 digest"),
        (["verify", "-pubin", "garbage.pem", "-sig", "doc.txt", "-in", "doc.txt"], "expected PEM PUBLIC KEY"),
        (["verify", "-pubin", "pub.pem", "-sig", "random.bin", "-in", "doc.txt"], "does not verify"),
        (["verify", "-cert", "garbage.pem", "-sig", "doc.txt", "-in", "doc.txt"], "expected PEM CERTIFICATE"),
        (["dgst", "missing.txt"], "cannot read input missing.txt"),
        (["req", "-in", "random.bin"], "malformed"),
        (["x509", "-in", "random.bin", "-text"], "malformed"),
        (["req", "-key", "key.pem", "-subj", "/C=RU/SNILS=123"], "snils must be 11 digits"),
    ]
    for args, message in cases:
        failed = tools.klyuch(*args, expect=1)
        assert message in failed.stderr, (args, failed.stderr)


def test_bad_hash_and_subject_are_usage_errors(tools: Tools) -> None:
    tools.klyuch("genkey", "-o", "key.pem")
    failed = tools.klyuch("sign", "-key", "key.pem", "-hash", "not-hex-and-no-file", expect=2)
    assert "neither a file nor a hex string" in failed.stderr
    failed = tools.klyuch("sign", "-key", "key.pem", "-hash", "00" * 31, expect=2)
    assert "must be 32 bytes" in failed.stderr
    failed = tools.klyuch("req", "-key", "key.pem", "-subj", "CN=no slash", expect=2)
    assert "-subj must look like" in failed.stderr
    failed = tools.klyuch("req", "-key", "key.pem", "-subj", "/XX=1", expect=2)
    assert "unknown name attribute 'XX'" in failed.stderr
    failed = tools.klyuch("req", "-key", "key.pem", "-subj", "/CN=a", "-addext", "keyUsage=flying", expect=2)
    assert "unknown keyUsage 'flying'" in failed.stderr
    failed = tools.klyuch(
        "req", "-key", "key.pem", "-subj", "/CN=a", "-addext", "subjectAltName=IP:1.2.3", expect=2
    )
    assert "'1.2.3' is not an IP address" in failed.stderr


def test_private_output_never_changes_a_device_mode() -> None:
    """Writing a key to /dev/null as root must not make it 0600 (that broke every other program)."""
    import os
    import stat

    from edge.gost_cli.files import write_output

    before = stat.S_IMODE(os.stat("/dev/null").st_mode)
    write_output("/dev/null", b"key", private=True)
    assert stat.S_IMODE(os.stat("/dev/null").st_mode) == before
