from etl.jobs.args import getResolvedOptions

__all__ = ["getResolvedOptions"]
