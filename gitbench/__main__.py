from gitbench.cli.app import main

# Guarded: a Dask LocalCluster's worker processes are spawned, and a spawned process imports the main module
# again (as __mp_main__): it must not run gitbench a second time.
if __name__ == "__main__":
    raise SystemExit(main())
