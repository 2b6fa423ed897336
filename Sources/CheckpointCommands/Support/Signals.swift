import CheckpointKit

/// Unlinks in-flight temporary outputs on SIGINT/SIGTERM/SIGHUP and turns `ulimit -f` into a
/// clean EFBIG error instead of a kill.
func installSignalCleanup() {
    CleanupHandlers.install()
}
