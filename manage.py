#!/usr/bin/env python
from fengqiao.cli import main

if __name__ == "__main__":
    main()
