"""Which of a tenant's lotes a file is already the content of, by the file's SHA-256.

A lote records the digest of the file its visible content was imported from
(`Lote.file_digest`, `tenant#sha256`, set by the commit that makes it visible), and the
sparse `lotes-by-file` index finds it. The index is keys only and eventually
consistent, so every lote it names is read again, consistently, and believed only if it
is ACTIVE and still shows that file: a lote replaced by another file or being deleted
no longer counts. Two copies of one file imported in the same second into two
different lotes can both pass (the index may not show the first commit yet); into the
same lote, the second is refused by the lote's own claim (LOTE_EXISTS).
"""

from __future__ import annotations

import hashlib
import re

from pynamodb.exceptions import DoesNotExist

from chalicelib.core.models import Lote, LoteStatus

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
# Lotes one file can be the content of before the lookup stops reading: each is one
# forced import of an already imported file, so a handful in practice.
MAX_LOTES_PER_FILE = 20


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest_key(tenant_id: str, sha256: str) -> str:
    """The `lotes-by-file` key of a tenant's file: tenants never see each other's files."""
    return f"{tenant_id}#{sha256}"


def active_lote_with(tenant_id: str, sha256: str, *, replacing: str | None = None) -> Lote | None:
    """An ACTIVE lote of the tenant whose visible content is the file `sha256`, if any;
    `replacing`: the card code of an import that replaces its lote, whose lotes of that
    card do not count (the same file again is how a lote is re-read with new rules)."""
    key = digest_key(tenant_id, sha256)
    for hit in Lote.by_file.query(key, limit=MAX_LOTES_PER_FILE):
        try:
            lote = Lote.get(hit.tenant_id, hit.lote_id, consistent_read=True)
        except DoesNotExist:
            continue
        if lote.status != LoteStatus.ACTIVE or lote.file_digest != key:
            continue
        if lote.codigo_tarjeta != replacing:
            return lote
    return None
