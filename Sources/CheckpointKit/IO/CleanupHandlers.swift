import CheckpointSystem

/// Signal handlers that remove temporary files of interrupted writes (see `AtomicOutputFile`).
public enum CleanupHandlers {
    public static func install() { SystemProcess.installCleanupHandlers() }
}
