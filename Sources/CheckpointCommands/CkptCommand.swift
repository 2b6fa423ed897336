import ArgumentParser
import CheckpointKit

public struct CkptCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ckpt",
        abstract: "Inspect, diff, strip, rebuild and convert model checkpoints.",
        version: "0.1.0",
        subcommands: []
    )
    public init() {}
}
