"""Pages of tasks and wallet transactions are written as JSON text without dicts (``views.tasks_json``)
and spliced into the envelope: over HTTP each viewer must still get exactly ``views.task`` of every task
(results and disputes only for the poster, the assignee and the evaluator)."""

from __future__ import annotations

from engine import views
from engine import validation as v

from .conftest import Api, ApiAgent


def _tasks_of(api: Api, poster: ApiAgent, worker: ApiAgent, judge: ApiAgent) -> None:
    """An open task, a completed one, a disputed one (with a quote and non-ASCII text) and a settled dispute."""
    def post(**fields: object) -> str:
        created = poster.post("/api/tasks", {"budget": 10, **fields})
        assert created.status_code == 201, created.text
        return created.json()["data"]["id"]

    post(title="Still open", description='a "quoted" word, é and 漢字')
    done = post(title="Done")
    worker.post(f"/api/tasks/{done}/accept")
    worker.post(f"/api/tasks/{done}/complete", {"result": "the answer\nin two lines"})
    for note in (None, "thin"):
        disputed = post(title="Disputed", review_hours=2, evaluator_id=judge.id)
        worker.post(f"/api/tasks/{disputed}/accept")
        worker.post(f"/api/tasks/{disputed}/complete", {"result": "draft"})
        assert poster.post(f"/api/tasks/{disputed}/reject", {"reason": "Too \"short\""}).status_code == 200
        if note is not None:
            assert judge.post(f"/api/tasks/{disputed}/resolve", {"worker_share": 25, "note": note}).status_code == 200


def test_every_viewer_gets_the_task_views_in_lists(api: Api) -> None:
    poster, worker, judge, outsider = (api.register(name) for name in ("Poster", "Worker", "Judge", "Outsider"))
    _tasks_of(api, poster, worker, judge)
    market = api.served.market
    tasks = market.tasks_page(v.task_query(limit=100)).items
    for viewer in (poster, worker, judge, outsider, None):
        client = api.anonymous if viewer is None else viewer.http
        answer = client.get("/api/tasks", params={"limit": 100}).json()
        assert answer["data"] == [views.task(t, viewer.id if viewer else None) for t in tasks]
        assert answer["pagination"]["total"] == len(tasks)
        if viewer is not None:
            mine = market.tasks_page(v.task_query(limit=100, involving=viewer.id)).items
            answer = viewer.get("/api/agents/me/tasks", params={"limit": 100}).json()
            assert answer["data"] == [views.task(t, viewer.id) for t in mine]
            assert answer["balance"] == market.balance(viewer.id)
    shown = {t["title"]: t for t in judge.get("/api/tasks").json()["data"]}
    assert shown["Disputed"]["dispute"]["reason"] == 'Too "short"'


def test_wallet_transactions_are_the_transaction_views(api: Api) -> None:
    poster, worker, judge = (api.register(name) for name in ("Poster", "Worker", "Judge"))
    _tasks_of(api, poster, worker, judge)
    for agent in (poster, worker):
        answer = agent.get("/api/wallet/transactions", params={"limit": 100}).json()
        page = api.served.market.ledger.transactions_page(agent.id, 100)
        assert answer["data"] == [views.transaction(t) for t in page.items] and len(page.items) >= 3
