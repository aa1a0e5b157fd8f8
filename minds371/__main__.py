"""``python -m minds371``: the ``minds371`` command."""

from minds371._entry import run

run()
