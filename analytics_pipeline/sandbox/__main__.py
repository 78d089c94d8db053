"""``python -m analytics_pipeline.sandbox --port 8400 --profile XS --seed 42``."""
from analytics_pipeline.sandbox.cli import main

if __name__ == "__main__":
    main()
