"""A Glue job, written exactly as for AWS Glue: raw sales CSV -> typed, partitioned Parquet.

Run it with plain spark-submit:
    spark-submit jobs/sales_etl.py --JOB_NAME sales_etl --input_path data/raw --output_path data/out
"""

import sys
import time

from pyspark.context import SparkContext
from pyspark.sql import functions as F

from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame
from awsglue.job import Job
from awsglue.transforms import *  # noqa: F403
from awsglue.utils import getResolvedOptions

args = getResolvedOptions(sys.argv, ["JOB_NAME", "input_path", "output_path"])
started = time.perf_counter()

sc = SparkContext.getOrCreate()
glueContext = GlueContext(sc)
logger = glueContext.get_logger()
job = Job(glueContext)
job.init(args["JOB_NAME"], args)

raw = glueContext.create_dynamic_frame.from_options(
    connection_type="s3",
    connection_options={"paths": [args["input_path"]], "recurse": True},
    format="csv",
    format_options={"withHeader": True, "separator": ","},
    transformation_ctx="raw_sales",
)

typed = ApplyMapping.apply(  # noqa: F405
    frame=raw,
    mappings=[
        ("order_id", "long", "order_id", "long"),
        ("customer_id", "string", "customer.id", "string"),
        ("region", "string", "customer.region", "string"),
        ("product", "string", "product", "string"),
        ("quantity", "int", "quantity", "int"),
        ("unit_price", "double", "unit_price", "decimal(10,2)"),
        ("order_date", "string", "order_date", "date"),
    ],
    transformation_ctx="typed_sales",
)

with_partitions = DynamicFrame.fromDF(
    typed.toDF()
    .withColumn("amount", F.col("quantity") * F.col("unit_price"))
    .withColumn("year", F.year("order_date"))
    .withColumn("month", F.month("order_date")),
    glueContext,
    "sales",
)

glueContext.write_dynamic_frame.from_options(
    frame=with_partitions,
    connection_type="s3",
    connection_options={
        "path": args["output_path"] + "/sales",
        "partitionKeys": ["year", "month"],
        "mode": "overwrite",
    },
    format="parquet",
    format_options={"compression": "snappy"},
    transformation_ctx="sales_parquet",
)

daily = with_partitions.toDF().groupBy("order_date", "year", "month").agg(
    F.sum("amount").alias("revenue"), F.count("*").alias("orders")
)
glueContext.write_data_frame.from_options(
    frame=daily,
    connection_type="s3",
    connection_options={"path": args["output_path"] + "/daily_revenue", "primaryKeys": ["order_date"],
                        "partitionKeys": ["year"]},
    format="delta",
)

result = glueContext.write_results[0]
rows_in = raw.count()
errors = raw.errorsCount()
rows_out = with_partitions.count()
print(f"rows read:          {rows_in}")
print(f"error records:      {errors}")
for err in raw.errorsAsDynamicFrame().toDF().limit(3).collect():
    print(f"  {err['source'].rsplit('/', 1)[-1]}: {err['error_message']}: {err['input'][:60]!r}")
print(f"rows written:       {rows_out}")
print(f"partitions written: {result.partitions_written} ({result.files_written} files) -> {result.path}")
print(f"delta daily table:  {daily.count()} days upserted -> {args['output_path']}/daily_revenue")
print(f"elapsed:            {time.perf_counter() - started:.1f}s")
job.commit()
