"""The KeyStore and UploadRegistry contracts, run on every database backend (tests/backends.py), each opened by the
composition root from its URL: an API key is shown once and only its hash is kept, the development keys of
R2V_API_KEYS are answered beside the stored ones, a revoked key is refused at once by every process (listed, never
with its secret), and an uploaded object belongs to one key for 48 hours, under an
object key that cannot be taken twice."""

from __future__ import annotations

import pytest

from r2v.errors import FILE_ALREADY_EXISTS, ApiError
from r2v.keys import KeyInfo, env_key_id, hash_key
from r2v.storage.uploads import UPLOAD_TTL_MS
from tests.backends import DATABASE_BYTES, DATABASES, components

pytestmark = pytest.mark.unit


@pytest.fixture(params=sorted(DATABASES))
def database(request) -> str:
    return request.param


@pytest.fixture
def open_parts(database, tmp_path):
    """The components of one process on the database under test (the same database each time), with these
    R2V_API_KEYS."""
    return lambda api_keys=(): components(tmp_path / "data", database=database, api_keys=api_keys)


# --- API keys ------------------------------------------------------------------------------------------------


def test_a_created_key_resolves_to_its_id_in_every_process(open_parts):
    keys = open_parts().keys
    assert not keys.has_any()
    key_id, key = keys.create("me", 1000)
    assert key.startswith("sk-") and len(key) >= 3 + 48  # 24 random bytes or more
    assert keys.has_any()
    assert keys.resolve(key) == key_id
    other = open_parts().keys  # another process, another connection
    assert other.has_any() and other.resolve(key) == key_id
    second_id, second = other.create("me", 2000)  # the same name again: another key
    assert second_id != key_id and second != key
    assert keys.resolve(second) == second_id and keys.resolve(key) == key_id


def test_unknown_keys_resolve_to_nothing(open_parts):
    keys = open_parts().keys
    assert keys.resolve("sk-" + "0" * 48) is None  # on an empty store
    _, key = keys.create("me", 1000)
    for unknown in ("", "sk-", key[:-1], key + "0", key.upper(), " " + key, key[3:],
                    hash_key(key)):  # what is stored is not a key  # fmt: skip
        assert keys.resolve(unknown) is None, unknown
    assert keys.resolve(key) is not None


def test_only_the_hash_of_a_key_is_stored(open_parts, database, tmp_path):
    _, key = open_parts().keys.create("me", 1000)
    stored = DATABASE_BYTES[database](DATABASES[database](tmp_path / "data"))
    assert hash_key(key).encode() in stored  # this looks where the keys are
    assert key.encode() not in stored and key[3:].encode() not in stored


def test_the_development_keys_are_answered_beside_the_stored_ones(open_parts):
    dev = open_parts(api_keys=("sk-dev-1", "", "sk-dev-2"))  # R2V_API_KEYS=sk-dev-1,,sk-dev-2
    assert dev.keys.has_any()  # nothing stored, yet keys are accepted
    assert dev.keys.resolve("sk-dev-1") == env_key_id("sk-dev-1") != dev.keys.resolve("sk-dev-2")
    assert dev.keys.resolve("sk-dev-2") == env_key_id("sk-dev-2")
    assert env_key_id("sk-dev-1").startswith("env-")
    assert dev.keys.resolve("") is None  # an empty entry of the list is no key
    assert dev.keys.resolve("sk-dev-3") is None
    plain = open_parts()  # a process without them: they were never stored
    assert not plain.keys.has_any() and plain.keys.resolve("sk-dev-1") is None
    key_id, key = dev.keys.create("me", 1000)  # keys created beside them are stored, as always
    assert dev.keys.resolve(key) == key_id and plain.keys.resolve(key) == key_id
    assert open_parts(api_keys=("sk-dev-1",)).keys.resolve("sk-dev-1") == env_key_id("sk-dev-1")  # a stable id


def test_keys_are_listed_oldest_first_without_their_secret(open_parts):
    keys = open_parts().keys
    assert keys.list() == []
    second_id, second = keys.create("ci", 2000)
    first_id, first = keys.create("alice laptop", 1000)
    listed = open_parts().keys.list()  # another process
    assert listed == [KeyInfo(first_id, "alice laptop", 1000, None), KeyInfo(second_id, "ci", 2000, None)]
    assert not any(secret in repr(listed) or hash_key(secret) in repr(listed) for secret in (first, second))


def test_a_revoked_key_is_refused_at_once_by_every_process_and_stays_listed(open_parts):
    serving, other = open_parts(), open_parts()  # two API processes on one database
    key_id, key = serving.keys.create("leaked", 1000)
    kept_id, kept = serving.keys.create("kept", 1500)
    assert serving.keys.resolve(key) == key_id and other.keys.resolve(key) == key_id  # both have answered it
    revoked = other.keys.revoke(key_id, 5000)
    assert revoked == KeyInfo(key_id, "leaked", 1000, 5000)
    assert serving.keys.resolve(key) is None and other.keys.resolve(key) is None  # no process remembers it
    assert serving.keys.resolve(kept) == kept_id  # only that key
    assert serving.keys.list() == [revoked, KeyInfo(kept_id, "kept", 1500, None)]
    assert serving.keys.revoke(key_id, 9000) == revoked  # again: no change, the first time stays
    assert serving.keys.revoke("no-such-id", 9000) is None
    assert serving.keys.revoke(kept_id, 9000).revoked_ms == 9000
    assert not serving.keys.has_any()  # only revoked keys: none would be accepted
    assert open_parts(api_keys=("sk-dev-1",)).keys.has_any()


# --- uploads -------------------------------------------------------------------------------------------------

OBJECT = "dashscope-instant/0f3a/2025-06-01/6d1e2f/girl.png"
BLOB = "uploads/0f3a/6d1e2f/girl.png"
T = 1_750_000_000_000


def test_an_upload_belongs_to_its_key_for_48_hours(open_parts):
    uploads = open_parts().uploads
    assert not uploads.exists(OBJECT) and uploads.find(OBJECT, "alice", T) is None
    uploads.add(OBJECT, "alice", BLOB, 1234, T)
    assert uploads.exists(OBJECT)
    assert uploads.find(OBJECT, "alice", T) == BLOB
    assert uploads.find(OBJECT, "bob", T) is None  # another key's
    assert uploads.find(OBJECT + "x", "alice", T) is None
    assert UPLOAD_TTL_MS == 48 * 3600 * 1000
    assert uploads.find(OBJECT, "alice", T + UPLOAD_TTL_MS) == BLOB  # 48 hours to the millisecond
    assert uploads.find(OBJECT, "alice", T + UPLOAD_TTL_MS + 1) is None  # expired
    other = open_parts().uploads  # another process sees it
    assert other.exists(OBJECT) and other.find(OBJECT, "alice", T + 1) == BLOB


def test_an_object_key_cannot_be_taken_twice(open_parts):
    uploads = open_parts().uploads
    uploads.add(OBJECT, "alice", BLOB, 1234, T)
    for owner, registry in (("bob", uploads), ("alice", uploads), ("bob", open_parts().uploads)):
        with pytest.raises(ApiError) as refused:
            registry.add(OBJECT, owner, "uploads/other.png", 1, T + 5)
        assert (refused.value.status, refused.value.code) == (409, FILE_ALREADY_EXISTS)
    assert uploads.find(OBJECT, "alice", T) == BLOB and uploads.find(OBJECT, "bob", T + 5) is None  # unchanged
    uploads.add(OBJECT.replace("girl", "boy"), "alice", BLOB.replace("girl", "boy"), 1, T)  # another key is free


def test_remove_frees_the_object_key(open_parts):
    uploads = open_parts().uploads
    uploads.add(OBJECT, "alice", BLOB, 1234, T)
    uploads.add("dashscope-instant/other.png", "alice", "uploads/other.png", 1, T)
    uploads.remove(OBJECT)
    assert not uploads.exists(OBJECT) and uploads.find(OBJECT, "alice", T) is None
    assert uploads.exists("dashscope-instant/other.png")  # only that one
    uploads.remove(OBJECT)  # nothing there: no error
    uploads.add(OBJECT, "bob", "uploads/bob.png", 1, T + 10)
    assert uploads.find(OBJECT, "bob", T + 10) == "uploads/bob.png"


def test_delete_expired_forgets_uploads_older_than_48_hours_and_names_their_blobs(open_parts):
    uploads = open_parts().uploads
    uploads.add("k/expired.png", "alice", "blob/expired.png", 1, T - UPLOAD_TTL_MS - 1)
    uploads.add("k/exactly-48h.png", "bob", "blob/exactly-48h.png", 1, T - UPLOAD_TTL_MS)
    uploads.add("k/new.png", "alice", "blob/new.png", 1, T)
    assert uploads.delete_expired(T) == ["blob/expired.png"]
    assert not uploads.exists("k/expired.png")
    assert uploads.find("k/exactly-48h.png", "bob", T) == "blob/exactly-48h.png"  # what find still serves stays
    assert uploads.exists("k/new.png")
    assert uploads.delete_expired(T) == []
    assert sorted(uploads.delete_expired(T + UPLOAD_TTL_MS + 1)) == ["blob/exactly-48h.png", "blob/new.png"]
    assert not uploads.exists("k/new.png") and not uploads.exists("k/exactly-48h.png")
    uploads.add("k/expired.png", "bob", "blob/again.png", 1, T)  # its object key is free again
    assert uploads.find("k/expired.png", "bob", T) == "blob/again.png"
