# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers for the integration tests: guest artefacts (artefacts.py), a QEMU
process with its console (qemu.py), the command channel into a guest
(agent.py), the nested test host L1 (l1.py), and test guests and what their
init reports (guest.py). Fixtures that put these together: ../conftest.py.
See docs/testbench.md."""
