"""web app: sign-in links, sessions, rate limits, outcomes, labelled examples,
phrase rules and the roster

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _id():
    return sa.Column('id', sa.Integer(), primary_key=True)


def _fk(name, target, nullable=False):
    return sa.Column(name, sa.Integer(), sa.ForeignKey(target), nullable=nullable)


def upgrade() -> None:
    op.create_table('login_token', _id(), _fk('setting_id', 'setting.id'), _fk('recipient_id', 'recipient.id'),
                    sa.Column('created_at', TS, nullable=False), sa.Column('used_at', TS, nullable=True))
    op.create_table('web_session', _id(), sa.Column('token_hash', sa.String(64), nullable=False, unique=True),
                    _fk('setting_id', 'setting.id'), _fk('recipient_id', 'recipient.id'),
                    _fk('alert_id', 'alert.id', nullable=True), sa.Column('csrf', sa.String(64), nullable=False),
                    sa.Column('created_at', TS, nullable=False), sa.Column('last_seen_at', TS, nullable=False),
                    sa.Column('ended_at', TS, nullable=True))
    op.create_table('login_attempt', _id(), sa.Column('key', sa.String(100), nullable=False),
                    sa.Column('created_at', TS, nullable=False))
    op.create_index('ix_login_attempt_key', 'login_attempt', ['key'])
    op.create_table('alert_outcome', _id(), _fk('setting_id', 'setting.id'),
                    sa.Column('alert_id', sa.Integer(), sa.ForeignKey('alert.id'), nullable=False, unique=True),
                    sa.Column('outcome', sa.String(20), nullable=False), sa.Column('referred_to', sa.String(20)),
                    sa.Column('reference', sa.String(200)), sa.Column('wrong_labels', sa.JSON(), nullable=False),
                    sa.Column('note', sa.Text()), _fk('closed_by_id', 'recipient.id'),
                    sa.Column('closed_at', TS, nullable=False))
    op.create_table('labelled_example', _id(), _fk('setting_id', 'setting.id'), _fk('item_id', 'item.id', True),
                    sa.Column('source', sa.String(20), nullable=False), sa.Column('text', sa.Text(), nullable=False),
                    sa.Column('platform', sa.String(20), nullable=False), sa.Column('labels', sa.JSON(), nullable=False),
                    _fk('created_by_id', 'recipient.id', True), sa.Column('created_at', TS, nullable=False),
                    sa.UniqueConstraint('item_id', 'source'))
    op.create_table('phrase_rule', _id(), _fk('setting_id', 'setting.id'),
                    sa.Column('phrase', sa.String(200), nullable=False), sa.Column('label', sa.String(20), nullable=False),
                    sa.Column('action', sa.String(10), nullable=False), _fk('created_by_id', 'recipient.id', True),
                    sa.Column('created_at', TS, nullable=False), sa.UniqueConstraint('setting_id', 'phrase', 'label'))
    op.create_table('roster_person', _id(), _fk('setting_id', 'setting.id'),
                    sa.Column('kind', sa.String(10), nullable=False), sa.Column('first_name', sa.String(100), nullable=False),
                    sa.Column('surname', sa.String(100), nullable=False), sa.Column('room', sa.String(100), nullable=False),
                    sa.Column('created_at', TS, nullable=False))
    op.create_index('ix_roster_person_setting_id', 'roster_person', ['setting_id'])


def downgrade() -> None:
    for table in ('roster_person', 'phrase_rule', 'labelled_example', 'alert_outcome', 'login_attempt',
                  'web_session', 'login_token'):
        op.drop_table(table)
