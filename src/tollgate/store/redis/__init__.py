"""What several replicas share through Redis rather than the database (TOLLGATE_REDIS_URL)."""
