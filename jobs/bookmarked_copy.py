"""A bookmarked Glue job: append the CSV files not processed yet to a Parquet folder.

Run it twice with a file added in between; the second run copies only the new file:
    spark-submit jobs/bookmarked_copy.py --JOB_NAME copy --input_path data/in --output_path data/out \
        --job-bookmark-option job-bookmark-enable

``--fail_after_read true`` makes the run raise after reading (to show that a failed run does
not advance the bookmark: the next run reads the same files again).
"""

import sys

from pyspark.context import SparkContext

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions

args = getResolvedOptions(sys.argv, ["JOB_NAME", "input_path", "output_path"])
fail_after_read = (
    "--fail_after_read" in sys.argv
    and getResolvedOptions(sys.argv, ["fail_after_read"])["fail_after_read"].lower() == "true"
)

glueContext = GlueContext(SparkContext.getOrCreate())
job = Job(glueContext)
job.init(args["JOB_NAME"], args)

orders = glueContext.create_dynamic_frame.from_options(
    connection_type="s3",
    connection_options={"paths": [args["input_path"]]},
    format="csv",
    format_options={"withHeader": True},
    transformation_ctx="orders",
)
rows = orders.count()
print(f"run id:        {job.run_id}")
print(f"rows read:     {rows}")
for ctx, source in job.bookmark_report["sources"].items():
    print(f"source {ctx}: files read {source['files_read']}, skipped by bookmark {source['files_skipped']}")

if fail_after_read:
    raise RuntimeError("failing after the read, as asked (--fail_after_read true)")

glueContext.write_dynamic_frame.from_options(
    frame=orders,
    connection_type="s3",
    connection_options={"path": args["output_path"]},
    format="parquet",
    transformation_ctx="orders_out",
)
print(f"rows written:  {rows}")
job.commit()
