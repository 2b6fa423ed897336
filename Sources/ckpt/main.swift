#if canImport(Glibc)
import Glibc
#endif
import CheckpointCommands

exit(CkptCommand.main(CommandLine.arguments))
