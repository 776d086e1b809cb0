using System.CommandLine;
using MoePlan.Cli.Files;
using MoePlan.Cli.Options;
using MoePlan.Cli.Terminal;
using MoePlan.Core.Compilation;
using MoePlan.Core.Emit;
using MoePlan.Core.Inventory;

namespace MoePlan.Cli.Commands;

/// <summary><c>moeplan compile FILE -o DIR</c>: verify, then write the deployment bundle.</summary>
internal static class CompileCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var file = new Argument<string>("file") { Description = "Plan file (*.moe)." };
        var output = new Option<string>("--output", "-o") { Description = "Output folder (refused if not empty, unless --force).", Required = true };
        var force = new Option<bool>("--force") { Description = "Replace a non-empty output folder." };
        var target = new Option<string[]>("--target", "-t")
        {
            Description = $"Bundle folder to write (repeatable): {string.Join(", ", BundleTargets.All)}. Default: the plan's engine, kubernetes and nginx.",
            AllowMultipleArgumentsPerToken = false,
        };
        target.AcceptOnlyFromAmong([.. BundleTargets.All]);
        var templates = new Option<string?>("--templates") { Description = "Folder of Scriban templates (<target>/<name>.sbn) to use instead of the shipped ones." };
        var inventory = new Option<string?>("--inventory")
        {
            Description = "YAML file listing the cluster's nodes (host, ip, devices, nics, ib_devices, pool, labels; docs/bundles.md): checked against the plan, then the bundle uses its hosts and addresses.",
        };
        var modelVolume = new Option<string?>("--model-volume")
        {
            Description = "Where the Kubernetes pods find the checkpoint: pvc:NAME (default: pvc:<deployment>-model) or hostpath:/DIR.",
        };
        var command = new Command("compile", """
            Verify a plan and write its deployment bundle to a folder: README.md (what to launch where, in order),
            plan.json (the normalised plan), report.md, expert-placement files, and one folder per target:
            vllm/ or sglang/ (per-node launch scripts), omni-infer/ (Ansible inventory, model JSON), nginx/
            (stock proxy config and Omni Proxy directives), kubernetes/ (LeaderWorkerSets, Services, ConfigMap).
            The folder is written atomically; nothing is written when the plan or a template has errors.

            Examples:
              moeplan compile plans/deepseek-v3-h800.moe -o out/deepseek-v3-h800
              moeplan compile plans/qwen1.5-moe-tiny.moe -o out/tiny --force
              moeplan compile plans/qwen3-235b-h200.moe -o out/q --target vllm --target sglang
              moeplan compile plans/qwen3-235b-h200.moe -o out/q --templates my-templates
              moeplan compile plans/deepseek-v3-h800.moe -o out/d --inventory cluster.yaml
            """)
        {
            file,
            output,
            force,
            target,
            templates,
            inventory,
            modelVolume,
        };
        var set = PlanOverrideOption.Create();
        command.Options.Add(set);
        command.SetAction(parse => Run(
            new CompileArguments(parse.GetValue(file)!, parse.GetValue(output)!, parse.GetValue(force), parse.GetValue(target) ?? [], parse.GetValue(templates), parse.GetValue(set) ?? [],
                parse.GetValue(inventory), parse.GetValue(modelVolume)),
            stdout,
            stderr));
        return command;
    }

    public static int Run(CompileArguments arguments, TextWriter stdout, TextWriter stderr)
    {
        var file = arguments.File;
        if (InputPaths.Problem(file) is { } problem)
        {
            stderr.WriteLine($"moeplan: error: {problem}");
            return ExitCodes.UsageOrIo;
        }

        var templateFolder = arguments.Templates ?? FolderTemplateLoader.FindDefault();
        if (templateFolder is null || InputPaths.FolderProblem(templateFolder, "templates folder") is not null)
        {
            stderr.WriteLine(templateFolder is null
                ? "moeplan: error: no templates folder next to the executable; pass --templates DIR"
                : $"moeplan: error: {InputPaths.FolderProblem(templateFolder, "templates folder")}");
            return ExitCodes.UsageOrIo;
        }

        BundleModelVolume? modelVolume = null;
        if (arguments.ModelVolume is { } volumeText)
        {
            modelVolume = BundleModelVolume.Parse(volumeText, out var volumeError);
            if (modelVolume is null)
            {
                stderr.WriteLine($"moeplan: error: --model-volume '{volumeText}': {volumeError}");
                return ExitCodes.UsageOrIo;
            }
        }

        var resolver = PlanOverrideOption.Resolver([.. arguments.Set], file);
        var result = PlanCompiler.Compile(file, resolver);
        DiagnosticPrinter.WriteText(stdout, result.Diagnostics);
        if (result.Plan is null)
        {
            stdout.WriteLine($"{file}: not compiled: {result.Diagnostics.Count(d => d.IsError)} error(s)");
            return ExitCodes.Diagnostics;
        }

        ClusterInventory? inventory = null;
        if (arguments.Inventory is { } inventoryPath)
        {
            var (loaded, inventoryDiagnostics, unreadable) = InventoryFile.Load(inventoryPath);
            var checkedDiagnostics = loaded is null ? inventoryDiagnostics : inventoryDiagnostics.AddRange(InventoryVerifier.Verify(result.Plan, loaded));
            DiagnosticPrinter.WriteText(stdout, checkedDiagnostics);
            if (loaded is null || checkedDiagnostics.Any(d => d.IsError))
            {
                stdout.WriteLine($"{file}: not compiled: {checkedDiagnostics.Count(d => d.IsError)} error(s) in the inventory {inventoryPath}");
                return unreadable ? ExitCodes.UsageOrIo : ExitCodes.Diagnostics;
            }

            inventory = loaded;
        }

        var bundle = BundleEmitter.Emit(result.Plan, file, arguments.Targets, new FolderTemplateLoader(templateFolder), resolver, result.Cost?.Report, inventory, modelVolume);
        DiagnosticPrinter.WriteText(stdout, bundle.Diagnostics);
        if (bundle.HasErrors)
        {
            stdout.WriteLine($"{file}: bundle not written: {bundle.Diagnostics.Count(d => d.IsError)} error(s)");
            return ExitCodes.Diagnostics;
        }

        BundleDirectory.Write(arguments.Output, bundle.Files, bundle.BinaryFiles, arguments.Force);
        stdout.WriteLine($"{file}: wrote {bundle.Count} file(s) to {arguments.Output}");
        return ExitCodes.Ok;
    }
}

/// <summary>What <c>moeplan compile</c> was asked to do.</summary>
/// <param name="Targets">Bundle folders; empty means the plan's engine, kubernetes and nginx.</param>
/// <param name="Templates">Templates folder; null means the shipped one.</param>
/// <param name="Set">The <c>--set</c> overrides.</param>
/// <param name="Inventory">Inventory file; null keeps synthetic host names and placeholder addresses.</param>
/// <param name="ModelVolume">pvc:NAME or hostpath:/DIR; null means a claim named after the deployment.</param>
internal sealed record CompileArguments(string File, string Output, bool Force, IReadOnlyList<string> Targets, string? Templates, IReadOnlyList<string> Set,
    string? Inventory = null, string? ModelVolume = null);
