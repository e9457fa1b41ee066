"""Design-space sweeps: sweep files (`spec`), where points run (`executors`, `execute`), the
resumable result store (`store`) and running a sweep (`run`). docs/sweeps.md."""
