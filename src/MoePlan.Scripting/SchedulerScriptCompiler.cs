using System.Collections.Immutable;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Emit;
using Microsoft.CodeAnalysis.Scripting;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Text;
using MoePlan.Scheduling;
using MoePlan.Serving.Inputs;
using Diagnostic = MoePlan.Core.Diagnostics.Diagnostic;

namespace MoePlan.Scripting;

/// <summary>A script compiled (or taken from the cache) and loaded, or the diagnostics that stopped it.</summary>
/// <param name="FromCache">The image came from the cache: the compiler did not run.</param>
public sealed record ScriptLoad(CompiledScheduler? Script, IReadOnlyList<Diagnostic> Diagnostics, bool FromCache);

/// <summary>
/// Compiles scheduler scripts (<c>.csx</c>) with Roslyn's scripting API against an explicit reference list,
/// checks them (<see cref="ScriptConfinement"/>), instruments them with the budget's checks
/// (<see cref="BudgetInstrumenter"/>), and caches the image by content hash (<see cref="ScriptCache"/>).
/// Nothing of a script runs unless every check passed.
/// </summary>
public static class SchedulerScriptCompiler
{
    /// <summary>Bumped when the checks or the instrumentation change, so old cached images are not reused.</summary>
    internal const int InstrumentationVersion = 4;

    public static ScriptLoad Load(string path, string? cacheDirectory = null)
    {
        // Regular files only, read with a byte cap: /proc/self/mem, /dev/zero or a FIFO is a diagnostic, not a hang.
        if (!InputFile.TryReadText(path, ScriptBounds.MaxFileBytes, out var text, out var error))
        {
            return new ScriptLoad(null, [DiagnosticCodes.ScriptNotFound.Create(new SourceSpan(path, 0, 0, 1, 1), path, error)], false);
        }

        var cache = new ScriptCache(cacheDirectory ?? ScriptCache.DefaultDirectory());
        string key = ScriptCache.Key(text, InstrumentationVersion);
        if (cache.TryRead(key, out var pe, out var pdb))
        {
            return new ScriptLoad(CompiledScheduler.Load(path, text, pe, pdb), [], true);
        }

        var result = Compile(path, text);
        if (result.Pe is null)
        {
            return new ScriptLoad(null, result.Diagnostics, false);
        }

        cache.Write(key, result.Pe, result.Pdb!);
        return new ScriptLoad(CompiledScheduler.Load(path, text, result.Pe, result.Pdb!), [], false);
    }

    /// <summary>Compiles and checks only (what <c>moeplan check</c> does); the diagnostics, empty when it is fine.</summary>
    public static IReadOnlyList<Diagnostic> Check(string path, string text) => Compile(path, text).Diagnostics;

    /// <summary>
    /// Stack of the compiling thread. The bounds keep the compiler's recursion shallow; this is the margin for what
    /// they do not foresee (a reservation: untouched pages cost no memory).
    /// </summary>
    private const int CompilerStackBytes = 256 * 1024 * 1024;

    /// <summary>
    /// Bounds the script (MP4009), then compiles, checks and emits it on a thread of its own with a large stack; an
    /// exception out of the compiler is MP4010 at the script's first line, never a crash of moeplan.
    /// </summary>
    internal static (byte[]? Pe, byte[]? Pdb, IReadOnlyList<Diagnostic> Diagnostics) Compile(string path, string text) =>
        Compile(path, text, CompileBounded);

    /// <summary>The same, with the step that runs the compiler given (a test makes it throw).</summary>
    internal static (byte[]? Pe, byte[]? Pdb, IReadOnlyList<Diagnostic> Diagnostics) Compile(
        string path, string text, Func<string, string, (byte[]? Pe, byte[]? Pdb, IReadOnlyList<Diagnostic> Diagnostics)> compile)
    {
        (byte[]? Pe, byte[]? Pdb, IReadOnlyList<Diagnostic> Diagnostics) result = default;
        var thread = new Thread(
            () =>
            {
                try
                {
                    var bounds = ScriptBounds.Check(path, text);
                    result = bounds.Count > 0 ? (null, null, bounds) : compile(path, text);
                }
                catch (Exception e)
                {
                    result = (null, null, [DiagnosticCodes.ScriptCompilerFailed.Create(new SourceSpan(path, 0, 0, 1, 1), $"{e.GetType().Name}: {e.Message}")]);
                }
            },
            CompilerStackBytes)
        { Name = "moeplan script compiler" };
        thread.Start();
        thread.Join();
        return result;
    }

    private static (byte[]? Pe, byte[]? Pdb, IReadOnlyList<Diagnostic> Diagnostics) CompileBounded(string path, string text)
    {
        var parseOptions = new CSharpParseOptions(LanguageVersion.Latest, kind: SourceCodeKind.Script);
        var parsed = CSharpSyntaxTree.ParseText(text, parseOptions, path, Encoding.UTF8);
        var directives = ScriptConfinement.CheckDirectives(parsed, path);
        if (directives.Count > 0)
        {
            return (null, null, directives);
        }

        var compilation = (CSharpCompilation)CSharpScript.Create<Scheduler>(text, Options(path)).GetCompilation();
        var tree = compilation.SyntaxTrees.Single();
        var errors = compilation.GetDiagnostics()
            .Where(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error)
            .OrderBy(d => d.Location.SourceSpan.Start)
            .Select(d => DiagnosticCodes.ScriptCompileError.Create(ScriptLocation.Of(path, d.Location), d.Id, d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)))
            .ToList();
        if (errors.Count > 0)
        {
            return (null, null, errors);
        }

        var model = compilation.GetSemanticModel(tree);
        var violations = ScriptConfinement.Check(model, path).OrderBy(d => d.Span!.Value.Start).ToList();
        if (!MakesScheduler((CompilationUnitSyntax)tree.GetRoot()))
        {
            violations.Add(DiagnosticCodes.ScriptNoScheduler.Create(ScriptLocation.Of(path, Location.Create(tree, new Microsoft.CodeAnalysis.Text.TextSpan(tree.Length, 0)))));
        }

        if (violations.Count > 0)
        {
            return (null, null, violations);
        }

        var instrumented = compilation.ReplaceSyntaxTree(tree, BudgetInstrumenter.Instrument(model));
        using var pe = new MemoryStream();
        using var pdb = new MemoryStream();
        var emitted = instrumented.Emit(pe, pdb, options: new EmitOptions(debugInformationFormat: DebugInformationFormat.PortablePdb));
        if (!emitted.Success)
        {
            // The instrumentation broke a script that compiled: a moeplan bug, reported at the script all the same.
            var failures = emitted.Diagnostics.Where(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error)
                .Select(d => DiagnosticCodes.ScriptCompileError.Create(ScriptLocation.Of(path, d.Location), d.Id, "after inserting the budget checks: " + d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)))
                .ToList();
            return (null, null, failures);
        }

        return (pe.ToArray(), pdb.ToArray(), []);
    }

    /// <summary>The script's value is a scheduler: a last expression without a semicolon, or a top-level return.</summary>
    private static bool MakesScheduler(CompilationUnitSyntax root)
    {
        var globals = root.Members.OfType<GlobalStatementSyntax>().ToList();
        return globals.Any(g => g.Statement is ReturnStatementSyntax { Expression: not null })
            || (globals.LastOrDefault()?.Statement is ExpressionStatementSyntax last && last.SemicolonToken.IsMissing);
    }

    /// <summary>
    /// The explicit references: the scheduler API and the runtime's core, collections and LINQ assemblies
    /// (Roslyn adds the core library itself). What a script may use within them is the allow-list's decision.
    /// </summary>
    private static ScriptOptions Options(string path) =>
        ScriptOptions.Default
            .WithReferences(
                MetadataReference.CreateFromFile(typeof(Scheduler).Assembly.Location),
                MetadataReference.CreateFromFile(typeof(object).Assembly.Location),
                MetadataReference.CreateFromFile(Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "System.Runtime.dll")),
                MetadataReference.CreateFromFile(typeof(Queue<>).Assembly.Location),
                MetadataReference.CreateFromFile(typeof(Enumerable).Assembly.Location))
            .WithImports("System", "System.Collections.Generic", "System.Linq", "MoePlan.Scheduling")
            .WithMetadataResolver(NoReferences.Instance)
            .WithSourceResolver(NoSources.Instance)
            .WithAllowUnsafe(false)
            // Not optimised: an optimised loop in a finally block that never exits, run while the budget's stop
            // unwinds, crashes the .NET 10 runtime (a segfault, reproduced in plain C# built in Release; Debug
            // builds do not crash). Costs per-call speed (docs/benchmarks.md).
            .WithOptimizationLevel(OptimizationLevel.Debug)
            .WithEmitDebugInformation(true)
            .WithFilePath(path);

    /// <summary>Resolves no <c>#r</c> (they are rejected before compiling; this is a second lock).</summary>
    private sealed class NoReferences : MetadataReferenceResolver
    {
        public static readonly NoReferences Instance = new();

        public override bool Equals(object? other) => other is NoReferences;

        public override int GetHashCode() => 1;

        public override ImmutableArray<PortableExecutableReference> ResolveReference(string reference, string? baseFilePath, MetadataReferenceProperties properties) => [];
    }

    /// <summary>Resolves no <c>#load</c>.</summary>
    private sealed class NoSources : SourceReferenceResolver
    {
        public static readonly NoSources Instance = new();

        public override bool Equals(object? other) => other is NoSources;

        public override int GetHashCode() => 2;

        public override string? NormalizePath(string path, string? baseFilePath) => null;

        public override Stream OpenRead(string resolvedPath) => throw new FileNotFoundException(resolvedPath);

        public override string? ResolveReference(string path, string? baseFilePath) => null;
    }
}

/// <summary>
/// A compiled script image (IL and symbols) with its source. The host never loads it: it goes to the script host
/// process (<see cref="Isolation.ScriptHostProcess"/>), which loads it and runs its hooks.
/// </summary>
public sealed class CompiledScheduler
{
    private CompiledScheduler(string path, string text, byte[] pe, byte[] pdb)
    {
        Path = path;
        Text = text;
        Pe = pe;
        Pdb = pdb;
    }

    public string Path { get; }

    /// <summary>The script's source (for mapping run-time failures to its lines).</summary>
    public string Text { get; }

    /// <summary>The name the policy goes by: the script's file name.</summary>
    public string Name => System.IO.Path.GetFileName(Path);

    internal byte[] Pe { get; }

    internal byte[] Pdb { get; }

    internal static CompiledScheduler Load(string path, string text, byte[] pe, byte[] pdb) => new(path, text, pe, pdb);
}
