"""Design-space sweeps: sweep files (`spec`), where points run (`executors`, `execute`), the
resumable result store (`store`) and the `isaacsim sweep` command (`run`). docs/sweeps.md."""
