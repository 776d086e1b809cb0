using System.CommandLine;
using MoePlan.Cli.Files;
using MoePlan.Core.Editing;
using MoePlan.Serving.Inputs;

namespace MoePlan.Cli.Options;

/// <summary><c>--set PATH=VALUE</c>, repeatable, on every verb that reads a plan (<see cref="PlanOverrides"/>).</summary>
internal static class PlanOverrideOption
{
    public static Option<string[]> Create() => new("--set")
    {
        Description = "Override a setting of the plan, PATH=VALUE (repeatable): paths as the blocks nest (decode.parallel.ep, workload.arrivals, cluster.nodes) or as a sweep names them (decode.ep, decode.max_batch=64 per device).",
        HelpName = "PATH=VALUE",
    };

    /// <summary>
    /// The resolver a verb reads its plans with: the overrides applied to each plan. A malformed override, or a path
    /// that <paramref name="planFile"/> does not have, is a usage error before any work.
    /// </summary>
    public static FileSystemSourceResolver Resolver(string[]? values, string? planFile)
    {
        if (values is not { Length: > 0 })
        {
            return new FileSystemSourceResolver();
        }

        var (overrides, malformed) = PlanOverrides.Parse(values);
        if (malformed.Length > 0)
        {
            throw new CliUsageException($"{malformed[0].Message} ({malformed[0].Code})");
        }

        if (planFile is not null && InputFile.TryReadText(planFile, FileSystemSourceResolver.MaxFileBytes, out var text, out _))
        {
            var (_, unknown) = PlanOverrides.Apply(text, planFile, overrides);
            if (unknown.Length > 0)
            {
                throw new CliUsageException($"{unknown[0].Message} ({unknown[0].Code})");
            }
        }

        return new FileSystemSourceResolver { Overrides = overrides };
    }
}
