"""What an engine author tests with: a scripted engine to copy from and drive the lifecycle with
(``scripted``), a simulated cluster (``world``), the conformance kit any engine must pass
(``conformance``) and the table mutants of mutation testing (``mutants``). The in-memory API server
is ``lifecycle.k8s.memory``."""
