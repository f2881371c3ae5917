-- A plain GET of the URL (the hello-world baselines), counting failed answers.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
