-- Co-signatures (actors/operations/cosign.py): an item may carry an existing CMS to add a signature to.
-- Its input is 'signature' and, while the operation is live, its document column holds that CMS (the
-- same temporary storage as an attached CAdES's content: deleted when the operation finishes, is
-- declined or expires). Its digest is the digest of the content the existing signers signed.

ALTER TABLE operation_items DROP CONSTRAINT operation_items_input_check;
ALTER TABLE operation_items ADD CONSTRAINT operation_items_input_check
    CHECK (input IN ('content', 'hash', 'signature'));

-- Was: input = 'content' OR document IS NULL (a hash item keeps no document).
ALTER TABLE operation_items DROP CONSTRAINT operation_items_check;
ALTER TABLE operation_items ADD CONSTRAINT operation_items_document_check
    CHECK (input <> 'hash' OR document IS NULL);

COMMENT ON TABLE operation_items IS 'Documents of an operation. input = what the client sent: content, hash, or '
    'signature (an existing CMS to co-sign); digest = the document digest (what devices show and the raw '
    'signature / CAdES message-digest covers; a co-signature: the digest of the content the existing signers '
    'signed); document = the content, kept only while an attached CAdES still needs it, or the CMS a '
    'co-signature is added to, kept only while the operation is live, and deleted when the operation leaves '
    'its live states; preview = text shown to devices, deleted with it; result = signature value (raw) or DER '
    'ContentInfo (CAdES; a co-signature: the whole co-signed CMS).';
