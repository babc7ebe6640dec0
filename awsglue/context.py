from etl.context import DataSink, DataSource, GlueContext, GlueLogger

__all__ = ["DataSink", "DataSource", "GlueContext", "GlueLogger"]
