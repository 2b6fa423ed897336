import CheckpointCommands
import CheckpointSystem

SystemProcess.exit(CkptCommand.main(CommandLine.arguments))
