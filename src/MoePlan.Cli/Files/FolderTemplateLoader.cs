using MoePlan.Serving.Inputs;
using Scriban;
using Scriban.Parsing;
using Scriban.Runtime;
using Scriban.Syntax;

namespace MoePlan.Cli.Files;

/// <summary>
/// Loads bundle templates (<c>&lt;target&gt;/&lt;name&gt;.sbn</c>) from a folder: <c>--templates DIR</c>, else the
/// <c>templates/</c> folder shipped next to the executable, else the repository's <c>templates/</c> found by walking up.
/// </summary>
public sealed class FolderTemplateLoader : ITemplateLoader
{
    public FolderTemplateLoader(string root)
    {
        Root = Path.GetFullPath(root);
    }

    public string Root { get; }

    /// <summary>The default folder, or null when none is found.</summary>
    public static string? FindDefault()
    {
        var beside = Path.Combine(AppContext.BaseDirectory, "templates");
        if (Directory.Exists(beside))
        {
            return beside;
        }

        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var candidate = Path.Combine(d.FullName, "templates");
            if (File.Exists(Path.Combine(d.FullName, "MoePlan.sln")) && Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>
    /// The file of an <c>include</c>: inside the templates folder only (a template of a user's <c>--templates</c> folder
    /// must not pull <c>../../etc/passwd</c> into a bundle).
    /// </summary>
    public string GetPath(TemplateContext context, SourceSpan callerSpan, string templateName)
    {
        var path = Path.GetFullPath(Path.Combine(Root, templateName.Replace('/', Path.DirectorySeparatorChar)));
        var root = Root.EndsWith(Path.DirectorySeparatorChar) ? Root : Root + Path.DirectorySeparatorChar;
        if (!path.StartsWith(root, StringComparison.Ordinal))
        {
            throw new ScriptRuntimeException(callerSpan, $"template '{templateName}' is outside the templates folder '{Root}'; includes stay inside it");
        }

        return path;
    }

    public string Load(TemplateContext context, SourceSpan callerSpan, string templatePath)
    {
        // Links inside the folder may not lead out of it either.
        var target = new FileInfo(templatePath).ResolveLinkTarget(returnFinalTarget: true)?.FullName;
        if (target is not null && !target.StartsWith(Root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new ScriptRuntimeException(callerSpan, $"template '{templatePath}' links outside the templates folder '{Root}'");
        }

        if (!InputFile.TryReadText(templatePath, InputFile.DefaultMaxBytes, out var text, out var error))
        {
            throw new ScriptRuntimeException(callerSpan, $"cannot read template '{templatePath}' (templates folder '{Root}'): {error}");
        }

        return text;
    }

    public ValueTask<string?> LoadAsync(TemplateContext context, SourceSpan callerSpan, string templatePath) =>
        ValueTask.FromResult<string?>(Load(context, callerSpan, templatePath));
}
