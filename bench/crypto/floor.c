/*
 * The C floor of GOST R 34.10-2012 through the gost ENGINE: the same calls Klyuch's ctypes
 * binding makes (a fresh EVP_PKEY_CTX per operation), timed in C, so that
 * bench.crypto can report the binding's overhead as a ratio.
 *
 * usage: floor <paramset> <bits> <seconds>    e.g.  floor TCA 256 0.5
 * prints one JSON object: {"sign_us": ..., "verify_us": ..., "sign_ops": ..., "verify_ops": ...}
 * Compiled at run time by bench/crypto/floor.py: cc -O2 floor.c -lcrypto
 */
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CPU time of this thread, as openssl speed and bench.crypto count it (robust on a shared host). */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "floor: %s failed\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: floor <paramset> <bits> <seconds>\n");
        return 2;
    }
    const char *paramset = argv[1];
    int bits = atoi(argv[2]);
    double seconds = atof(argv[3]);
    int nid = bits == 512 ? NID_id_GostR3410_2012_512 : NID_id_GostR3410_2012_256;
    size_t size = bits / 8, siglen;
    unsigned char digest[64], sig[128];
    memset(digest, 0x5a, sizeof digest);

    ENGINE *e = ENGINE_by_id("gost");
    if (e == NULL || !ENGINE_init(e)) die("ENGINE_by_id/ENGINE_init(gost)");
    if (!ENGINE_register_pkey_asn1_meths(e) || !ENGINE_register_pkey_meths(e)) die("ENGINE_register");

    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_id(nid, e);
    if (kctx == NULL || EVP_PKEY_keygen_init(kctx) <= 0 ||
        EVP_PKEY_CTX_ctrl_str(kctx, "paramset", paramset) <= 0 || EVP_PKEY_keygen(kctx, &pkey) <= 0)
        die("keygen");
    EVP_PKEY_CTX_free(kctx);

    long sign_ops = 0, verify_ops = 0;
    double start = now(), sign_time, verify_time;
    do {
        for (int i = 0; i < 16; i++, sign_ops++) {
            EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
            siglen = 2 * size;
            if (ctx == NULL || EVP_PKEY_sign_init(ctx) <= 0 ||
                EVP_PKEY_sign(ctx, sig, &siglen, digest, size) <= 0)
                die("sign");
            EVP_PKEY_CTX_free(ctx);
        }
    } while ((sign_time = now() - start) < seconds);

    start = now();
    do {
        for (int i = 0; i < 16; i++, verify_ops++) {
            EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
            if (ctx == NULL || EVP_PKEY_verify_init(ctx) <= 0 ||
                EVP_PKEY_verify(ctx, sig, siglen, digest, size) != 1)
                die("verify");
            EVP_PKEY_CTX_free(ctx);
        }
    } while ((verify_time = now() - start) < seconds);

    printf("{\"sign_us\": %.3f, \"verify_us\": %.3f, \"sign_ops\": %ld, \"verify_ops\": %ld}\n",
           sign_time / sign_ops * 1e6, verify_time / verify_ops * 1e6, sign_ops, verify_ops);
    EVP_PKEY_free(pkey);
    ENGINE_finish(e);
    ENGINE_free(e);
    return 0;
}
