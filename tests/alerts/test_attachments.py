"""A comment that is only a photo, sticker or GIF is shown as such and counted in the digest."""
from __future__ import annotations


from sqlalchemy import select, update

from alerts.digest import run_digest
from alerts.channels.email.render import render
from alerts.service import alert_context
from monitor.core.models import Alert, Item, Recipient


def test_an_alert_on_a_comment_with_a_sticker_says_so_in_both_parts(world):
    alert_id = world.raise_alert("see the sticker", evidence="sticker")
    with world.sessions.begin() as s:
        alert = s.get(Alert, alert_id)
        s.execute(update(Item).where(Item.id == alert.item_id).values(attachment_type="sticker"))
        s.expire_all()
        alert = s.get(Alert, alert_id)
        recipient = s.scalars(select(Recipient)).first()
        _, text, html = render("alert", alert_context(world.env, alert, alert.item, recipient))
    assert "With a sticker, which this email cannot show: open the post to see it." in text
    assert "With a sticker, which this email cannot show" in html


def test_the_digest_counts_comments_that_were_only_a_picture(world):
    for text, attachment in (("", "photo"), ("", "animated_image_share"), ("nice photo", "photo"), ("", None)):
        item_id = world.add_item(text)
        with world.sessions.begin() as s:
            s.execute(update(Item).where(Item.id == item_id).values(attachment_type=attachment))
    world.clock.advance(hours=24)
    [out] = run_digest(world.sessions, world.env, world.config.digest, world.clock(), dry_run=True)[:1]
    assert "2 comments had only a photo, sticker or GIF and no words to check" in out
