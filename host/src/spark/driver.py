"""verge's Spark driver: runs the SQL that verge generated and writes Parquet.

verge writes this file and a job description (JSON) into a staging directory
and starts it with `spark-submit --master MASTER --conf K=V ... driver.py
job.json` (every setting on the command line, so that those read when the JVM
starts apply). It holds
no semantics of its own: every rule of the point-in-time join and of
materialization is in the SQL (host/src/spark/sql.rs). Each query's result is
written as a Parquet directory; verge reads it back and checks it.

On failure it prints one line `verge-spark-error: MESSAGE` on stderr (the
innermost Java cause when Spark raised one) and exits 3.
"""

import json
import sys


def root_message(error):
    """The innermost cause of a Spark (Java) failure, else the Python error."""
    java = getattr(error, "java_exception", None)
    if java is not None:
        try:
            while java.getCause() is not None:
                java = java.getCause()
            return java.toString()
        except Exception:  # the gateway may be gone; the Python text still says it
            pass
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        job = json.load(f)
    try:
        from pyspark.sql import SparkSession
    except ImportError as e:
        print(f"verge-spark-error: pyspark is not importable by {sys.executable}: {e}", file=sys.stderr)
        return 3
    spark = None
    try:
        # Settings come on spark-submit's command line (--conf), where they
        # apply from the JVM's start.
        spark = SparkSession.builder.appName(job["app"]).getOrCreate()
        for query in job["queries"]:
            spark.sql(query["sql"]).write.mode("errorifexists").parquet(query["out"])
    except Exception as e:  # every failure becomes one line verge can show
        print(f"verge-spark-error: {root_message(e)}", file=sys.stderr)
        return 3
    finally:
        if spark is not None:
            spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
