"""``python -m resident.spark``: prints the Resident jar's path, for command lines such as
``spark-submit --jars "$(python -m resident.spark)" job.py``."""

import sys

from resident.spark._jar import JarNotFoundError, jar_path


def main() -> int:
    if len(sys.argv) > 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        print(jar_path())
    except JarNotFoundError as e:
        print(f"resident: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
