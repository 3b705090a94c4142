"""What the master/worker/fuse cache engines (Alluxio, Jindo) share.

``engine.CacheEngine`` implements every hook of the lifecycle contract once; an engine subclass
supplies its names, its containers and configuration, and the cache commands it execs in its
master. The other modules hold the pieces that need no engine: rendering workloads
(``objects``), resolving mounts and their secret options (``ufs``), node labels (``placement``)
and the status formats (``report``).
"""
