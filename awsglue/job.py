from etl.jobs.job import Job

__all__ = ["Job"]
