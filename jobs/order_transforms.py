"""A Glue job exercising the bundled transforms, written exactly as for AWS Glue.

Messy nested orders (JSON lines: a provider id that is sometimes a number and sometimes a string,
a JSON payload inside a string, arrays of line items, a broken line) are cleaned, enriched,
joined with customers, split and relationalized.

Run it with plain spark-submit:
    spark-submit jobs/order_transforms.py --JOB_NAME order_transforms \
        --input_path data/orders_in --output_path data/orders_out
It reads ``<input_path>/orders`` and ``<input_path>/customers`` and writes under ``output_path``.
"""

import json
import sys

from pyspark.context import SparkContext

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.transforms import *  # noqa: F403
from awsglue.utils import getResolvedOptions

args = getResolvedOptions(sys.argv, ["JOB_NAME", "input_path", "output_path"])
sc = SparkContext.getOrCreate()
glueContext = GlueContext(sc)
job = Job(glueContext)
job.init(args["JOB_NAME"], args)
out = args["output_path"].rstrip("/")

orders = glueContext.create_dynamic_frame.from_options(
    connection_type="s3",
    connection_options={"paths": [args["input_path"] + "/orders"]},
    format="json",
    transformation_ctx="orders",
)
orders.printSchema()  # provider_id shows as a choice of long and string
customers = glueContext.create_dynamic_frame.from_options(
    connection_type="s3",
    connection_options={"paths": [args["input_path"] + "/customers"]},
    format="json",
    transformation_ctx="customers",
)

resolved = ResolveChoice.apply(  # noqa: F405
    frame=orders, specs=[("provider_id", "make_cols"), ("items[].price", "cast:double")], transformation_ctx="resolve"
)
unboxed = Unbox.apply(frame=resolved, path="payload", format="json", transformation_ctx="unbox")  # noqa: F405
renamed = RenameField.apply(  # noqa: F405
    frame=unboxed, old_name="customer.name", new_name="customer.full_name", transformation_ctx="rename"
)
cleaned = DropNullFields.apply(frame=renamed, transformation_ctx="drop_nulls")  # noqa: F405


def add_total(record):
    record["total"] = round(sum(item["price"] * item["qty"] for item in record["items"]), 2)
    return record


with_totals = Map.apply(frame=cleaned, f=add_total, transformation_ctx="totals", info="order totals")  # noqa: F405
active = Filter.apply(frame=with_totals, f=lambda r: r["status"] != "cancelled", transformation_ctx="active")  # noqa: F405
joined = Join.apply(active, customers, "customer.full_name", "customer_name", transformation_ctx="join")  # noqa: F405
enriched = DropFields.apply(frame=joined, paths=["customer_name"], transformation_ctx="drop")  # noqa: F405

by_size = SplitRows.apply(  # noqa: F405
    frame=enriched, comparison_dict={"total": {">": 100}}, name1="large", name2="small", transformation_ctx="split"
)
for name in by_size.keys():
    glueContext.write_dynamic_frame.from_options(
        frame=SelectFromCollection.apply(dfc=by_size, key=name),  # noqa: F405
        connection_type="s3",
        connection_options={"path": f"{out}/{name}"},
        format="json",
    )

tables = Relationalize.apply(  # noqa: F405
    frame=enriched, staging_path=f"{out}/_staging", name="orders", transformation_ctx="relationalize"
)
for name in tables.keys():
    glueContext.write_dynamic_frame.from_options(
        frame=tables.select(name),
        connection_type="s3",
        connection_options={"path": f"{out}/relational/{name}"},
        format="parquet",
    )

flat = UnnestFrame.apply(  # noqa: F405
    frame=SelectFields.apply(frame=enriched, paths=["order_id", "customer", "tier"]),  # noqa: F405
    transformation_ctx="unnest",
)
glueContext.write_dynamic_frame.from_options(
    frame=flat, connection_type="s3", connection_options={"path": f"{out}/flat"}, format="parquet"
)
Spigot.apply(frame=enriched, path=f"{out}/spigot", options={"topk": 3})  # noqa: F405

summary = {
    "orders_read": orders.count(),
    "read_errors": orders.errorsCount(),
    "map_errors": with_totals.stageErrorsCount(),
    "errors_total": enriched.errorsCount(),
    "large": by_size.select("large").count(),
    "small": by_size.select("small").count(),
    "tables": sorted(tables.keys()),
}
print("SUMMARY " + json.dumps(summary, sort_keys=True))
job.commit()
