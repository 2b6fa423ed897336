import CheckpointCommands

await CkptCommand.main()
