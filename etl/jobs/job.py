"""``Job``: Glue's job object (``init`` at the start of a script, ``commit`` at the end)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from etl.errors import JobError

log = logging.getLogger("etl.job")


class Job:
    """Marks a script's run boundaries.

    ``init`` names the run and reads its arguments; ``commit`` ends it. Job bookmarks (the
    state ``commit`` would persist) are not implemented yet: a script asking for
    ``job-bookmark-enable`` is told so in the log and processes all of its input, which is what
    Glue does with bookmarks disabled.
    """

    def __init__(self, glue_context: Any) -> None:
        self.glue_context = glue_context
        self.name: str | None = None
        self.args: dict[str, Any] = {}
        self._committed = False

    def init(self, job_name: str, args: Mapping[str, Any] | None = None) -> None:
        if not job_name:
            raise JobError("Job.init needs a job name (pass args['JOB_NAME'])")
        self.name = job_name
        self.args = dict(args or {})
        if self.args.get("job_bookmark_option") in ("job-bookmark-enable", "job-bookmark-pause"):
            log.warning("job %s: job bookmarks are not implemented yet; reading all input", job_name)

    def commit(self) -> None:
        if self.name is None:
            raise JobError("Job.commit called before Job.init")
        self._committed = True

    @property
    def committed(self) -> bool:
        return self._committed
