"""The recorded platform responses hold no personal data, and each one says where it came from.

Every JSON file under tests/connectors/fixtures/recorded is scanned, not only
the ones redact.py writes, so a file copied in by hand is checked too. The list
of personal-data keys here is kept apart from redact.py on purpose: a key
dropped from the script is still caught here.
"""
from __future__ import annotations

import json
import re

import pytest

from tests.connectors.fixtures.recorded.redact import FILES, redact
from tests.connectors.helpers import RECORDED

PERSONAL_KEYS = {
    # texts people wrote
    "message", "text", "caption", "comment", "description", "title", "story", "review_text",
    "textDisplay", "textOriginal",
    # who they are
    "name", "displayName", "authorDisplayName", "sender_name", "username", "screen_name", "tag",
    # what shows them, and links to what they shared
    "src", "full_picture", "picture", "media_url", "thumbnail_url", "profilePhotoUrl", "profile_image_url",
    "authorProfileImageUrl", "url", "unshimmed_url", "expanded_url", "display_url", "unwound_url",
}
PLACEHOLDER = re.compile(
    r"redacted \w+ \d+|(Author|Name) \d+|user_\d+|tag_\d+|(https://)?example\.invalid/[\w/.]+"
    r"|\(Translated by Google\) redacted comment \d+\n\n\(Original\)\nredacted comment \d+"
)
GOOGLE_RESOURCE_NAME = re.compile(r"accounts/\d+/locations/\d+/reviews/[\w-]+")  # ids only
PLATFORM_WORDS = {"error", "errors", "status", "headers", "request"}  # error bodies, status lines, headers
REAL_HOSTS = ("fbcdn.net", "cdninstagram.com", "googleusercontent.com", "twimg.com", "ggpht.com", "t.co/",
              "bit.ly/", "fb.me/")


def personal_values(node: object, path: str = "", key: str | None = None) -> list[tuple[str, object]]:
    """(path, value) of every personal-data field whose value is not a placeholder."""
    if isinstance(node, dict):
        return [hit for k, v in node.items() if k not in PLATFORM_WORDS
                for hit in personal_values(v, f"{path}.{k}", k)]
    if isinstance(node, list):
        return [hit for i, v in enumerate(node) for hit in personal_values(v, f"{path}[{i}]", key)]
    if key not in PERSONAL_KEYS or node in ("", None) or isinstance(node, (bool, int, float)):
        return []
    if key == "name" and isinstance(node, str) and GOOGLE_RESOURCE_NAME.fullmatch(node):
        return []
    return [] if isinstance(node, str) and PLACEHOLDER.fullmatch(node) else [(path, node)]


def strings(node: object):
    if isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)
    elif isinstance(node, str):
        yield node


RECORDED_FILES = sorted(p.relative_to(RECORDED).as_posix() for p in RECORDED.rglob("*.json"))


def test_the_recorded_set_is_the_one_redact_writes():
    assert RECORDED_FILES == sorted(FILES)


@pytest.mark.parametrize("name", RECORDED_FILES)
def test_a_recorded_response_holds_only_placeholders_where_people_appear(name):
    data = json.loads((RECORDED / name).read_text("utf-8"))
    assert personal_values(data) == []
    leaks = [s for s in strings(data) if any(host in s for host in REAL_HOSTS)]
    assert leaks == []


@pytest.mark.parametrize("name", RECORDED_FILES)
def test_a_recorded_response_is_listed_with_its_source_and_licence(name):
    rows = [line for line in (RECORDED / "SOURCES.md").read_text("utf-8").splitlines()
            if line.startswith(f"| `{name}` |")]
    assert len(rows) == 1 and re.search(r"\| [0-9a-f]{40} \|", rows[0].replace("`", ""))
    assert re.search(r"MIT|Apache-2\.0|BSD-3-Clause", rows[0])


def test_the_scan_finds_real_values_left_in_any_personal_field():
    real = {"data": [{"id": "1", "message": "Lovely day at the park with Poppy",
                      "from": {"id": "7", "name": "Jane Smith"},
                      "attachment": {"media": {"image": {"src": "https://scontent.xx.fbcdn.net/v/1.jpg"}}},
                      "replies": {"data": [{"id": "2", "text": "@jane_s x", "username": "jane_s"}]}}],
            "reviews": [{"name": "accounts/1/locations/2/reviews/AbC-1", "comment": "redacted comment 1"}],
            "error": {"message": "(#100) Object does not exist", "code": 100}}
    assert [path for path, _ in personal_values(real)] == [
        ".data[0].message", ".data[0].from.name", ".data[0].attachment.media.image.src",
        ".data[0].replies.data[0].text", ".data[0].replies.data[0].username"]


def test_redact_replaces_people_and_keeps_ids_structure_and_the_platforms_own_words():
    src = {"data": [{"id": "1_2", "message": "Jane's comment", "like_count": 3, "hidden": False,
                     "from": {"id": "7", "name": "Jane Smith"}, "username": "jane_s",
                     "message_tags": [{"id": "9", "name": "Acme Ltd", "offset": 0, "length": 4}],
                     "attachment": {"type": "photo", "url": "https://www.facebook.com/photo.php?fbid=5",
                                    "media": {"image": {"src": "https://scontent.xx.fbcdn.net/a.jpg", "height": 4}}},
                     "permalink_url": "https://www.facebook.com/1/posts/2/?comment_id=3"},
                    {"id": "1_3", "message": "Jane's comment", "from": {"id": "7", "name": "Jane Smith"},
                     "username": "", "comment": "(Translated by Google) Tasty\n\n(Original)\nVkusno"}],
           "reviews": [{"name": "accounts/1/locations/2/reviews/R1", "reviewer": {"displayName": "Ivan P"}}],
           "paging": {"cursors": {"after": "QVFI"}, "next": "https://graph.facebook.com/v21.0/1/feed?after=QVFI"},
           "error": {"message": "(#4) Application request limit reached", "code": 4, "error_subcode": 2446079}}
    out = redact(src)
    first, second = out["data"]
    assert first["message"] == second["message"] == "redacted message 1"  # same value, same placeholder
    assert first["from"] == second["from"] == {"id": "7", "name": "Author 1"}
    assert first["username"] == "user_1" and second["username"] == ""
    assert first["message_tags"] == [{"id": "9", "name": "Name 2", "offset": 0, "length": 4}]
    assert first["attachment"] == {"type": "photo", "url": "https://example.invalid/link/1",
                                   "media": {"image": {"src": "https://example.invalid/photo/1.jpg", "height": 4}}}
    assert (first["id"], first["like_count"], first["hidden"]) == ("1_2", 3, False)
    assert first["permalink_url"] == src["data"][0]["permalink_url"]
    assert second["comment"] == "(Translated by Google) redacted comment 1\n\n(Original)\nredacted comment 2"
    assert out["reviews"] == [{"name": "accounts/1/locations/2/reviews/R1", "reviewer": {"displayName": "Author 3"}}]
    assert out["paging"] == src["paging"] and out["error"] == src["error"]
    assert personal_values(out) == []
