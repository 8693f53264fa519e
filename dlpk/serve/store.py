"""The service's database as the rest of the service uses it: model items and jobs in, rows
out. It is also the page's `ServiceStore` (views.py), the read side both share."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, func, or_, select, update
from sqlalchemy.exc import OperationalError

from dlpk.errors import UsageError
from dlpk.serve.database import engine_for, jobs, models
from dlpk.serve.migrations import migrate
from dlpk.serve.views import JobView, ModelView

#: Job columns held as JSON text.
JOB_JSON = ("request", "messages", "progress", "results")
MODEL_JSON = ("description", "lint", "arguments")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _decode(row: Any, columns: tuple[str, ...]) -> dict[str, Any]:
    values = dict(row._mapping)
    for name in columns:
        if values.get(name) is not None:
            values[name] = json.loads(values[name])
    return values


def _encode(values: dict[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    return {k: json.dumps(v) if k in columns and v is not None else v for k, v in values.items()}


class Store:
    """Rows of `models` and `jobs`; `data` is where the rows' relative paths start."""

    def __init__(self, url: str, data: Path) -> None:
        self.engine: Engine = engine_for(url)
        self.data = data
        try:
            self.version = migrate(self.engine)
        except OperationalError as exc:
            self.engine.dispose()
            reason = str(exc.orig or exc).strip().splitlines()[0]
            raise UsageError(
                f"the database cannot be opened: {reason}",
                "check --database (host, port, user, password, database name)",
            ) from None
        self._lock = threading.Lock()  # read-modify-write of a job's messages

    def close(self) -> None:
        self.engine.dispose()

    # -- models --------------------------------------------------------------------------
    def next_version(self, name: str) -> int:
        with self.engine.connect() as connection:
            latest = connection.scalar(
                select(func.max(models.c.version)).where(models.c.name == name)
            )
        return int(latest or 0) + 1

    def add_model(self, row: dict[str, Any]) -> dict[str, Any]:
        with self.engine.begin() as connection:
            connection.execute(models.insert().values(**_encode(row, MODEL_JSON)))
        return row

    def model_row(self, model_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(models).where(models.c.id == model_id)).first()
        return _decode(row, MODEL_JSON) if row is not None else None

    def model_rows(self, query: str | None = None) -> list[dict[str, Any]]:
        statement = select(models).order_by(models.c.name, models.c.version)
        for word in (query or "").lower().split():
            pattern = "%" + word.replace("%", "").replace("_", "") + "%"
            statement = statement.where(
                or_(models.c.search.like(pattern), models.c.id == word, models.c.sha256 == word)
            )
        with self.engine.connect() as connection:
            return [_decode(r, MODEL_JSON) for r in connection.execute(statement)]

    def same_model(self, name: str, sha256: str) -> dict[str, Any] | None:
        """The item holding these bytes under this name, if one does."""
        statement = select(models).where(models.c.name == name, models.c.sha256 == sha256)
        with self.engine.connect() as connection:
            row = connection.execute(statement.limit(1)).first()
        return _decode(row, MODEL_JSON) if row is not None else None

    def delete_model(self, model_id: str) -> bool:
        with self.engine.begin() as connection:
            return connection.execute(delete(models).where(models.c.id == model_id)).rowcount > 0

    def sha_in_use(self, sha256: str) -> bool:
        with self.engine.connect() as connection:
            count = connection.scalar(
                select(func.count()).select_from(models).where(models.c.sha256 == sha256)
            )
        return bool(count)

    # -- jobs ----------------------------------------------------------------------------
    def add_job(self, row: dict[str, Any]) -> None:
        with self.engine.begin() as connection:
            connection.execute(jobs.insert().values(**_encode(row, JOB_JSON)))

    def job_row(self, job_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(jobs).where(jobs.c.id == job_id)).first()
        return _decode(row, JOB_JSON) if row is not None else None

    def job_rows(self, statuses: tuple[str, ...] = (), limit: int | None = None) -> list[Any]:
        statement = select(jobs).order_by(jobs.c.submitted, jobs.c.id)
        if statuses:
            statement = statement.where(jobs.c.status.in_(statuses))
        if limit is not None:
            statement = statement.limit(limit)
        with self.engine.connect() as connection:
            return [_decode(r, JOB_JSON) for r in connection.execute(statement)]

    def count_jobs(self, statuses: tuple[str, ...]) -> int:
        with self.engine.connect() as connection:
            count = connection.scalar(
                select(func.count()).select_from(jobs).where(jobs.c.status.in_(statuses))
            )
        return int(count or 0)

    def update_job(
        self, job_id: str, message: tuple[str, str] | None = None, **values: Any
    ) -> None:
        """Set columns of a job, and append `message` (type, description) to its messages."""
        with self._lock, self.engine.begin() as connection:
            if message is not None:
                current = connection.scalar(select(jobs.c.messages).where(jobs.c.id == job_id))
                messages = json.loads(current or "[]")
                messages.append({"type": message[0], "description": message[1]})
                values["messages"] = messages
            connection.execute(
                update(jobs).where(jobs.c.id == job_id).values(**_encode(values, JOB_JSON))
            )

    def claim_job(self, job_id: str, started: str) -> bool:
        """Mark a submitted job executing; False when it was cancelled meanwhile."""
        with self._lock, self.engine.begin() as connection:
            changed = connection.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == "esriJobSubmitted")
                .values(status="esriJobExecuting", started=started, attempts=jobs.c.attempts + 1)
            )
            return changed.rowcount > 0

    def cancel_submitted(self, job_id: str, finished: str) -> bool:
        """Cancel a job still waiting in the queue; False when it was not waiting."""
        with self._lock, self.engine.begin() as connection:
            messages = connection.scalar(
                select(jobs.c.messages).where(
                    jobs.c.id == job_id, jobs.c.status == "esriJobSubmitted"
                )
            )
            if messages is None:
                return False
            listed = [
                *json.loads(messages),
                {"type": "esriJobMessageTypeInformative", "description": "Cancelled."},
            ]
            changed = connection.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == "esriJobSubmitted")
                .values(status="esriJobCancelled", finished=finished, messages=json.dumps(listed))
            )
            return changed.rowcount > 0

    # -- the page's read side ------------------------------------------------------------
    def get_model(self, model_id: str) -> ModelView | None:
        row = self.model_row(model_id)
        if row is None:
            return None
        return ModelView(
            id=row["id"],
            name=row["name"],
            version=row["version"],
            sha256=row["sha256"],
            path=self.data / row["path"],
            description=row["description"],
        )

    def get_job(self, job_id: str) -> JobView | None:
        row = self.job_row(job_id)
        if row is None:
            return None
        return job_view(row, self.data)


def job_view(row: dict[str, Any], data: Path) -> JobView:
    """A job row as the page sees it: its rasters and features by ArcGIS parameter name."""
    request = row["request"]
    rasters = {"inputRaster": Path(request["inputs"]["raster"])}
    features: dict[str, Path] = {}
    if row["status"] == "esriJobSucceeded":
        for name, result in row["results"].items():
            path = data / result["path"]
            if result["dataType"] == "GPRasterDataLayer":
                rasters[name] = path
            elif result["dataType"] == "GPFeatureRecordSetLayer":
                features[name] = path
    return JobView(
        id=row["id"],
        task=row["task"],
        status=row["status"],
        model_id=row["model_id"] or "",
        job_dir=data / "jobs" / row["id"],
        rasters=rasters,
        features=features,
    )
