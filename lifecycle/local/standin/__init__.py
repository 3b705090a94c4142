"""Stand-ins for the cache CLIs (`alluxio`, `jindocache`, `jindo`) that engines exec inside master pods.

Under kwok an exec into a pod runs the command as a local process, so these programs answer in the
real tools' output formats over a local directory tree that plays the under file system. The package
is a program of its own, shipped beside the operator and using only the standard library:
`python -m lifecycle.local.standin alluxio fs ls /` runs one invocation; the local cluster's shims
on kwok's PATH run the same package as the top-level ``standin`` (``lifecycle.local.components``),
so nothing of the operator is imported and an exec stays cheap.

Environment of an invocation:
    STANDIN_STATE_DIR       directory of the shared state file (default: the working directory)
    STANDIN_UFS_ROOT        s3://bucket/p is $STANDIN_UFS_ROOT/s3/bucket/p (default: $STANDIN_STATE_DIR/ufs)
    STANDIN_WORKERS         live workers reported (default 1)
    STANDIN_CACHE_CAPACITY  cache bytes (default 2 GiB per worker)
    STANDIN_CACHE_MEDIUM    MEM, SSD or HDD: the tier holding the capacity (default MEM)
    STANDIN_FAIL            comma-separated command names, optionally tool-qualified
                            ("mount", "count", "jindocache:report"), that fail with exit status 1
    STANDIN_MASTER_HOST     host in the reported master address (default localhost)
    STANDIN_ROOT_UFS        UFS shown mounted at the Alluxio root (default /underFSStorage)
    STANDIN_CLUSTER         the local cluster's name, for the `fluidlc cluster ufs add` hint of a
                            mount whose UFS folder is missing
"""
