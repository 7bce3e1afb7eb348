"""Scale-out on Ray (`--engine ray`): batch jobs and ingest on a cluster.

Nothing here imports Ray at module level: the default install never needs it.
"""
