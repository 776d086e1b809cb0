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

    public string GetPath(TemplateContext context, SourceSpan callerSpan, string templateName) =>
        Path.GetFullPath(Path.Combine(Root, templateName.Replace('/', Path.DirectorySeparatorChar)));

    public string Load(TemplateContext context, SourceSpan callerSpan, string templatePath)
    {
        if (!File.Exists(templatePath))
        {
            throw new ScriptRuntimeException(callerSpan, $"no template file '{templatePath}' (templates folder '{Root}')");
        }

        return File.ReadAllText(templatePath);
    }

    public ValueTask<string?> LoadAsync(TemplateContext context, SourceSpan callerSpan, string templatePath) =>
        ValueTask.FromResult<string?>(Load(context, callerSpan, templatePath));
}
