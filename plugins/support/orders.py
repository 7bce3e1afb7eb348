"""Order lookups the responder can call, behind one small interface.

`OrderTools` is where a shop's own order system plugs in (settings
`plugin_options.support.order_tools = "mypackage.orders:build"`). The demo
implementation is a SQLite file seeded with sample orders of demo-shop products,
and return eligibility follows the demo shop's returns and membership policies.
"""

from __future__ import annotations

import datetime as dt
import importlib
import random
import re
import sqlite3
import threading
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from pitchcraft.errors import PitchcraftError
from pitchcraft.settings import Settings

Status = Literal["processing", "shipped", "delivered", "cancelled"]
Tier = Literal["silver", "gold", "platinum"]
ORDER_ID = re.compile(r"\bLL-?(\d{6})\b", re.IGNORECASE)

RETURN_DAYS = 30
PLATINUM_RETURN_DAYS = 45
OPENED_ELECTRONICS_DAYS = 15
RESTOCKING_FEE = 0.15
# Categories the returns policy names as "opened electronics" (15 days, restocking fee).
OPENED_ELECTRONICS = ("Laptop", "Tablet", "iPad", "Camera", "Drone", "TV", "Monitor")
NOT_RETURNABLE_OPENED = ("Earbud", "In-Ear")
NON_ELECTRONICS = ("Women's",)  # the demo shop's clothing departments


class OrderLine(BaseModel):
    product_id: str
    title: str
    category: str
    price: float
    opened: bool = False


class Order(BaseModel):
    order_id: str
    customer_id: str
    tier: Tier
    status: Status
    ordered_on: dt.date
    shipped_on: dt.date | None = None
    delivered_on: dt.date | None = None
    carrier: str | None = None
    tracking: str | None = None
    lines: list[OrderLine]


ReturnRule = Literal["not_delivered", "opened_in_ear", "opened_electronics", "platinum", "standard"]


class LineEligibility(BaseModel):
    product_id: str
    title: str
    eligible: bool
    rule: ReturnRule = Field(description="The policy rule that decided.")
    days: int | None = Field(default=None, description="The rule's window, from delivery.")
    deadline: dt.date | None = None
    restocking_fee: float = 0.0


class ReturnEligibility(BaseModel):
    order_id: str
    lines: list[LineEligibility]
    policy: str = "returns"


@runtime_checkable
class OrderTools(Protocol):
    """What the responder needs from an order system."""

    def find_order_ids(self, text: str) -> list[str]:
        """Order numbers written in a message, normalised."""
        ...

    def order_status(self, order_id: str) -> Order | None: ...

    def return_eligibility(
        self, order_id: str, today: dt.date | None = None
    ) -> ReturnEligibility | None: ...


def line_eligibility(line: OrderLine, order: Order, today: dt.date) -> LineEligibility:
    """The demo shop's returns policy (returns.*.md) and Platinum's longer window."""
    base = {"product_id": line.product_id, "title": line.title}
    if order.status != "delivered" or order.delivered_on is None:
        return LineEligibility(**base, eligible=False, rule="not_delivered")
    if line.opened and any(word in line.category for word in NOT_RETURNABLE_OPENED):
        return LineEligibility(**base, eligible=False, rule="opened_in_ear")
    fee = 0.0
    rule: ReturnRule
    if line.opened and any(word in line.category for word in OPENED_ELECTRONICS):
        rule, days, fee = "opened_electronics", OPENED_ELECTRONICS_DAYS, RESTOCKING_FEE
    elif order.tier == "platinum" and line.category.startswith(NON_ELECTRONICS):
        rule, days = "platinum", PLATINUM_RETURN_DAYS
    else:
        rule, days = "standard", RETURN_DAYS
    deadline = order.delivered_on + dt.timedelta(days=days)
    eligible = today <= deadline
    return LineEligibility(
        **base,
        eligible=eligible,
        rule=rule,
        days=days,
        deadline=deadline,
        restocking_fee=round(line.price * fee, 2) if eligible else 0.0,
    )


class SQLiteOrders:
    """The demo order system: one SQLite file, seeded with sample orders on first use."""

    def __init__(self, path: Path, today: dt.date | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        with self._lock, self._db:
            self._db.execute("CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, json TEXT)")
            empty = self._db.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0
        if empty:
            self.put(demo_orders(today or dt.date.today()))

    def put(self, orders: list[Order]) -> None:
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO orders VALUES (?, ?)",
                [(o.order_id, o.model_dump_json()) for o in orders],
            )

    def all(self) -> list[Order]:
        with self._lock:
            rows = self._db.execute("SELECT json FROM orders ORDER BY id").fetchall()
        return [Order.model_validate_json(r[0]) for r in rows]

    def find_order_ids(self, text: str) -> list[str]:
        return list(dict.fromkeys(f"LL-{m}" for m in ORDER_ID.findall(text)))

    def order_status(self, order_id: str) -> Order | None:
        with self._lock:
            row = self._db.execute("SELECT json FROM orders WHERE id = ?", (order_id,)).fetchone()
        return Order.model_validate_json(row[0]) if row else None

    def return_eligibility(
        self, order_id: str, today: dt.date | None = None
    ) -> ReturnEligibility | None:
        order = self.order_status(order_id)
        if order is None:
            return None
        day = today or dt.date.today()
        return ReturnEligibility(
            order_id=order_id, lines=[line_eligibility(x, order, day) for x in order.lines]
        )


def demo_orders(today: dt.date, count: int = 40, seed: int = 7) -> list[Order]:
    """Sample orders of demo-shop products, dated relative to `today` so the demo stays
    meaningful: some in transit, some delivered inside and outside the return windows."""
    from pitchcraft.data import demo_shop

    rng = random.Random(seed)
    products = [p for p in demo_shop.load_products() if p.language == "en" and p.price]
    orders = []
    for n in range(count):
        status: Status = rng.choice(
            ["processing", "shipped", "delivered", "delivered", "delivered", "cancelled"]
        )
        ordered = today - dt.timedelta(days=rng.randint(1, 70))
        shipped = ordered + dt.timedelta(days=1) if status in ("shipped", "delivered") else None
        delivered = None
        if status == "delivered" and shipped is not None:
            delivered = min(today, shipped + dt.timedelta(days=rng.randint(1, 5)))
        picks = rng.sample(products, rng.randint(1, 2))
        orders.append(
            Order(
                order_id=f"LL-{100001 + n}",
                customer_id=f"cust-{rng.randint(1, 15):03d}",
                tier=rng.choice(["silver", "silver", "gold", "platinum"]),
                status=status,
                ordered_on=ordered,
                shipped_on=shipped,
                delivered_on=delivered,
                carrier="UPS" if shipped else None,
                tracking=f"1Z{rng.randrange(10**15):015d}" if shipped else None,
                lines=[
                    OrderLine(
                        product_id=p.id,
                        title=p.title,
                        category=p.category,
                        price=float(p.price or 0),
                        opened=rng.random() < 0.5,
                    )
                    for p in picks
                ],
            )
        )
    return orders


def order_tools_from(spec: str | None, settings: Settings, demo_path: Path) -> OrderTools:
    """The configured order system: 'module:factory' (called with the Settings) or the demo."""
    if spec is None:
        return SQLiteOrders(demo_path)
    module_name, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
        tools = factory(settings)
    except Exception as err:
        raise PitchcraftError(f"support order_tools {spec!r} could not be built: {err}") from None
    if not isinstance(tools, OrderTools):
        raise PitchcraftError(f"support order_tools {spec!r} did not return an OrderTools")
    return tools
