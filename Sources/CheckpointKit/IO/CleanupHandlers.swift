import CRuntimeLibs

/// Signal handlers that remove temporary files of interrupted writes (see `AtomicOutputFile`).
public enum CleanupHandlers {
    public static func install() {
        ckpt_install_cleanup_handlers()
        ckpt_tune_malloc()
    }
}
