"""JVM options for the short-lived Spark drivers that tests start in subprocesses (``spark-submit``,
and ``etl run`` / ``etl sql``, which start spark-submit themselves).

Such a driver lives 20-40 s on a few rows, nearly all of it cold: the optimising C2 JIT compiler
competes for this machine's two cores with the code it compiles and rarely finishes in time to
pay off. Stopping at the C1 compiler ran ``jobs/bookmarked_copy.py`` under spark-submit in ~22 s
instead of ~35 s. The option changes how fast the JVM runs, not what the job does.

``spark-class`` gives ``SPARK_SUBMIT_OPTS`` to the JVM that spark-submit starts (the driver, in
client mode); the executors that driver starts on a cluster's workers get the option through
``spark.executor.defaultJavaOptions``, and the cluster's daemons through ``SPARK_DAEMON_JAVA_OPTS``
(the standalone cluster test: ~83 s instead of ~137 s). This test session's own long-lived Spark
is not affected. Importable from test modules because pytest puts ``tests/`` on ``sys.path`` for
its conftest.py (as for ``pg_server.py``).
"""

C1_ONLY = "-XX:TieredStopAtLevel=1"
# The -D property reaches the driver's SparkConf: executors it starts on a cluster's workers get C1 too.
DRIVER_ENV = {"SPARK_SUBMIT_OPTS": f"{C1_ONLY} -Dspark.executor.defaultJavaOptions={C1_ONLY}"}
# For the master and worker daemons a test starts with spark-class.
DAEMON_ENV = {"SPARK_DAEMON_JAVA_OPTS": C1_ONLY}
