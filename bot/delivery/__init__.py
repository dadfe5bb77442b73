"""Delivery: every automatic send, exactly once, through the ledger (`bot.store.ledger`).

- `keys`: the ledger key of every kind of send (built and parsed only there);
- `post`: channel resolution, the multi-part channel post, closing the sends of a past day;
- `fanout`: DMs to many members, paced under Discord's global rate limit;
- `context`: what every fan-out of one client shares (pacer, DM channel ids, new-DM guards).

Features describe *what* to send; this package does the once-and-only-once *how*.
"""

from bot.delivery.context import FanoutContext
from bot.delivery.fanout import FanoutResult, send_dms
from bot.delivery.keys import Kind, kind_of, parse_key
from bot.delivery.post import Delivery, Part, Posted, close_past_key
from bot.store.ledger import Claim, Status

__all__ = [
    "Claim",
    "Delivery",
    "FanoutContext",
    "FanoutResult",
    "Kind",
    "Part",
    "Posted",
    "Status",
    "close_past_key",
    "kind_of",
    "parse_key",
    "send_dms",
]
