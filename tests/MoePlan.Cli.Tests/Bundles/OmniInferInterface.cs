using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using MoePlan.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace MoePlan.Cli.Tests.Bundles;

/// <summary>
/// What Omni-Infer's own files say a deployment must provide, read from the copies in tests/data/engine-interfaces/omni-infer
/// (see tests/data/SOURCES.md): the host variables its playbook reads, the fields its model-config loader accepts, the parts
/// of its Omni Proxy nginx configuration. Nothing here comes from moeplan's code.
/// </summary>
internal static partial class OmniInferInterface
{
    public static string PathOf(string name) => TestData.PathOf("engine-interfaces", "omni-infer", name);

    /// <summary>Ansible's own variables and the Jinja words that are not variables.</summary>
    private static readonly HashSet<string> NotHostVariables = new(StringComparer.Ordinal)
    {
        "inventory_hostname", "group_names", "groups", "hostvars", "ansible_env", "item", "loop", "play_hosts",
        "and", "or", "not", "in", "is", "if", "else", "true", "false", "none", "True", "False", "None",
    };

    /// <summary>
    /// The host variables the playbook reads for the hosts of each group (P, D, C), derived from its text: in each task
    /// (block tasks inherit their block's condition), the groups are those its <c>when</c> names (<c>'P' in group_names</c>;
    /// none named: every group), and it reads every bare name in its <c>{{ }}</c> expressions and conditions that is not a
    /// fact or variable the playbook sets itself (set_fact, register, play and task vars, Jinja locals) or one of Ansible's;
    /// loops over <c>groups['X']</c> read <c>h.name</c> / <c>hostvars[host].name</c> of group X's hosts, and pipelines
    /// <c>groups['X'] | map('extract', hostvars) | map(attribute='name')</c> / <c>selectattr('name', ...)</c> likewise.
    /// </summary>
    public static SortedDictionary<string, SortedSet<string>> PlaybookHostVariables()
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(PathOf("omni_infer_server_template.yml"))));
        var play = (YamlMappingNode)((YamlSequenceNode)stream.Documents[0].RootNode).Children[0];
        var tasks = Tasks((YamlSequenceNode)play["tasks"], []).ToList();

        // Names the playbook itself defines.
        var own = new HashSet<string>(StringComparer.Ordinal);
        own.UnionWith(((YamlMappingNode)play["vars"]).Children.Keys.Select(k => ((YamlScalarNode)k).Value!));
        foreach (var (task, _) in tasks)
        {
            if (Child(task, "set_fact") is YamlMappingNode facts)
            {
                own.UnionWith(facts.Children.Keys.Select(k => ((YamlScalarNode)k).Value!));
            }

            if (Child(task, "register") is YamlScalarNode register)
            {
                own.Add(register.Value!);
            }

            if (Child(task, "vars") is YamlMappingNode vars)
            {
                own.UnionWith(vars.Children.Keys.Select(k => ((YamlScalarNode)k).Value!));
            }
        }

        var result = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        foreach (var group in new[] { "P", "D", "C" })
        {
            result[group] = new SortedSet<string>(StringComparer.Ordinal);
        }

        foreach (var (task, inherited) in tasks)
        {
            var conditions = inherited.Concat(Scalars(Child(task, "when"))).ToList();
            var groups = conditions.SelectMany(c => GroupCondition().Matches(c).Select(m => m.Groups[1].Value)).Distinct().ToList();
            if (groups.Count == 0)
            {
                groups = ["P", "D", "C"];
            }

            var texts = Scalars(task).ToList();
            var locals = texts.SelectMany(t => JinjaLocal().Matches(t).SelectMany(m => m.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries)))
                .ToHashSet(StringComparer.Ordinal);
            var expressions = texts.SelectMany(t => Expression().Matches(t).Select(m => m.Groups[1].Value))
                .Concat(Scalars(Child(task, "when")))
                .ToList();
            foreach (var name in expressions.SelectMany(BareNames).Where(n => !own.Contains(n) && !locals.Contains(n) && !NotHostVariables.Contains(n)))
            {
                foreach (var group in groups)
                {
                    result[group].Add(name);
                }
            }

            // Reads of other hosts' variables, attributed to those hosts' group.
            foreach (var text in texts.Concat(conditions))
            {
                foreach (Match loop in GroupLoop().Matches(text))
                {
                    foreach (Match read in HostAttribute().Matches(loop.Groups[2].Value))
                    {
                        result[loop.Groups[1].Value].Add(read.Groups[1].Value);
                    }
                }

                foreach (Match pipeline in GroupPipeline().Matches(text))
                {
                    var group = pipeline.Groups["g"].Value;
                    if (pipeline.Groups["attr"].Success)
                    {
                        result[group].Add(pipeline.Groups["attr"].Value);
                    }

                    foreach (Match read in PipelineAttribute().Matches(pipeline.Groups["rest"].Value))
                    {
                        result[group].Add(read.Groups[1].Success ? read.Groups[1].Value : read.Groups[2].Value);
                    }
                }
            }
        }

        return result;
    }

    /// <summary>The per-group list stated in inventory-variables.txt (written from the interface facts).</summary>
    public static SortedDictionary<string, SortedSet<string>> StatedHostVariables()
    {
        var result = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(PathOf("inventory-variables.txt")).Where(l => l.Length > 0 && l[0] != '#'))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            result[line[..colon].Trim()] = new SortedSet<string>(line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries), StringComparer.Ordinal);
        }

        return result;
    }

    /// <summary>The playbook's fixed model-config paths per role, relative to the Omni-Infer checkout (MODEL_EXTRA_CFG_PATH lines).</summary>
    public static Dictionary<string, string> PlaybookModelConfigPaths()
    {
        var text = File.ReadAllText(PathOf("omni_infer_server_template.yml"));
        return ModelConfigPath().Matches(text).ToDictionary(m => m.Groups[2].Value, m => m.Groups[1].Value, StringComparer.Ordinal);
    }

    /// <summary>The folder, relative to the checkout, where the playbook starts the servers (its <c>cd</c> before pd_run.sh).</summary>
    public static string PlaybookServerFolder()
    {
        var text = File.ReadAllText(PathOf("omni_infer_server_template.yml"));
        var folders = ServerFolder().Matches(text).Select(m => m.Groups[1].Value).Distinct().ToList();
        return folders.Count == 1 ? folders[0] : throw new InvalidOperationException($"the playbook starts servers in {folders.Count} folders");
    }

    /// <summary>The loader's dataclasses (model_config.py): section key -> field -> Python type as annotated.</summary>
    public static Dictionary<string, Dictionary<string, string>> LoaderFields()
    {
        var classes = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        Dictionary<string, string>? current = null;
        foreach (var line in File.ReadLines(PathOf("model_config.py.ref")))
        {
            if (ClassLine().Match(line) is { Success: true } c)
            {
                current = classes[c.Groups[1].Value] = new Dictionary<string, string>(StringComparer.Ordinal);
            }
            else if (line.StartsWith("    def ", StringComparison.Ordinal) || (line.Length > 0 && !char.IsWhiteSpace(line[0])))
            {
                current = null;
            }
            else if (current is not null && FieldLine().Match(line) is { Success: true } f)
            {
                current[f.Groups[1].Value] = f.Groups[2].Value;
            }
        }

        // init_model_extra_config: ModelParallelConfig(**config_data['model_parallel_config']), ModelOperatorOptConfig(**...['operator_optimizition_config']).
        var text = File.ReadAllText(PathOf("model_config.py.ref"));
        return SectionLine().Matches(text).ToDictionary(m => m.Groups[2].Value, m => classes[m.Groups[1].Value], StringComparer.Ordinal);
    }

    /// <summary>Top-level keys of Omni Placement's sample config.</summary>
    public static HashSet<string> PlacementConfigKeys()
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(PathOf("omni_placement_config_d.yaml"))));
        return ((YamlMappingNode)stream.Documents[0].RootNode).Children.Keys.Select(k => ((YamlScalarNode)k).Value!).ToHashSet(StringComparer.Ordinal);
    }

    private static YamlNode? Child(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    /// <summary>Every task with the conditions of the blocks around it.</summary>
    private static IEnumerable<(YamlMappingNode Task, List<string> Conditions)> Tasks(YamlSequenceNode list, List<string> conditions)
    {
        foreach (var task in list.Children.Cast<YamlMappingNode>())
        {
            if (Child(task, "block") is YamlSequenceNode block)
            {
                foreach (var inner in Tasks(block, [.. conditions, .. Scalars(Child(task, "when"))]))
                {
                    yield return inner;
                }
            }
            else
            {
                yield return (task, conditions);
            }
        }
    }

    private static IEnumerable<string> Scalars(YamlNode? node) => node switch
    {
        YamlScalarNode s => [s.Value ?? ""],
        YamlSequenceNode q => q.Children.SelectMany(Scalars),
        YamlMappingNode m => m.Children.SelectMany(c => Scalars(c.Key).Concat(Scalars(c.Value))),
        _ => [],
    };

    /// <summary>Variable names in a Jinja expression: not attributes (.x), filters (| x), calls (x(...)), keyword arguments (x=) or tests (is x).</summary>
    private static IEnumerable<string> BareNames(string expression)
    {
        var code = Literal().Replace(expression, "''");
        return Name().Matches(code).Select(m => m.Groups[1].Value);
    }

    [GeneratedRegex(@"'([PDC])' in group_names")]
    private static partial Regex GroupCondition();

    [GeneratedRegex(@"\{\{(.*?)\}\}", RegexOptions.Singleline)]
    private static partial Regex Expression();

    [GeneratedRegex(@"\{%-?\s*(?:set|for)\s+([\w\s,]+?)\s*(?:=|\bin\b)")]
    private static partial Regex JinjaLocal();

    [GeneratedRegex(@"'[^']*'|""[^""]*""")]
    private static partial Regex Literal();

    [GeneratedRegex(@"(?<![\w.])(?<!\|\s*)(?<!\bis\s+)([A-Za-z_]\w*)\b(?!\s*\()(?!\s*=(?!=))")]
    private static partial Regex Name();

    [GeneratedRegex(@"\{%-?\s*for\s+host\s+in\s+groups\['([PDC])'\].*?%\}(.*?)\{%-?\s*endfor", RegexOptions.Singleline)]
    private static partial Regex GroupLoop();

    [GeneratedRegex(@"(?:\bh|hostvars\[host\])\.(\w+)")]
    private static partial Regex HostAttribute();

    [GeneratedRegex(@"groups(?:\['(?<g>[PDC])'\]|\.get\('(?<g>[PDC])'[^)]*\))\s*\|\s*map\('extract',\s*hostvars(?:,\s*'(?<attr>\w+)')?\)(?<rest>(?:(?!\}\}|groups\b).)*)", RegexOptions.Singleline)]
    private static partial Regex GroupPipeline();

    [GeneratedRegex(@"map\(attribute='(\w+)'\)|selectattr\('(\w+)'")]
    private static partial Regex PipelineAttribute();

    [GeneratedRegex(@"MODEL_EXTRA_CFG_PATH=""\$\{CODE_PATH\}/omniinfer/([\w/]+_(prefill|decode)\.json)""")]
    private static partial Regex ModelConfigPath();

    [GeneratedRegex(@"cd \$\{CODE_PATH\}/omniinfer/([\w/]+)\s*\n\s*bash \$\{CODE_PATH\}/omniinfer/tools/scripts/pd_run\.sh")]
    private static partial Regex ServerFolder();

    [GeneratedRegex(@"^class (\w+)")]
    private static partial Regex ClassLine();

    [GeneratedRegex(@"^    (\w+)\s*:\s*([\w\[\]]+)\s*=")]
    private static partial Regex FieldLine();

    [GeneratedRegex(@"(\w+)\(\*\*config_data\['(\w+)'\]\)")]
    private static partial Regex SectionLine();
}

/// <summary>A minimal reader of NumPy's .npy format (version 1.0/2.0, little-endian int32 data), written from the format's
/// description in numpy.lib.format, independent of moeplan's writer.</summary>
internal sealed partial record NpyArray(string Descr, bool FortranOrder, int[] Shape, int[] Values, int HeaderBytes)
{
    public static NpyArray Read(byte[] bytes)
    {
        if (bytes.Length < 10 || bytes[0] != 0x93 || Encoding.ASCII.GetString(bytes, 1, 5) != "NUMPY")
        {
            throw new InvalidDataException("no .npy magic");
        }

        var major = bytes[6];
        var (lengthBytes, length) = major switch
        {
            1 => (2, (int)BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8))),
            2 => (4, (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8))),
            _ => throw new InvalidDataException($".npy version {major} is not 1 or 2"),
        };
        var start = 8 + lengthBytes;
        var header = Encoding.ASCII.GetString(bytes, start, length);
        var descr = DescrEntry().Match(header).Groups[1].Value;
        var fortran = FortranEntry().Match(header).Groups[1].Value == "True";
        var shape = ShapeEntry().Match(header).Groups[1].Value
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var count = shape.Aggregate(1, (p, n) => p * n);
        var data = start + length;
        if (descr != "<i4" || bytes.Length - data != 4L * count)
        {
            throw new InvalidDataException($"descr {descr}, {bytes.Length - data} data bytes for {count} values");
        }

        var values = new int[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(data + (4 * i)));
        }

        return new NpyArray(descr, fortran, shape, values, data);
    }

    /// <summary>The value at a C-order index.</summary>
    public int this[params int[] index]
    {
        get
        {
            var offset = 0;
            for (var i = 0; i < Shape.Length; i++)
            {
                offset = (offset * Shape[i]) + index[i];
            }

            return Values[offset];
        }
    }

    [GeneratedRegex(@"'descr':\s*'([^']*)'")]
    private static partial Regex DescrEntry();

    [GeneratedRegex(@"'fortran_order':\s*(True|False)")]
    private static partial Regex FortranEntry();

    [GeneratedRegex(@"'shape':\s*\(([^)]*)\)")]
    private static partial Regex ShapeEntry();
}

/// <summary>An nginx configuration as a tree of directives (comments dropped), enough to check its structure.</summary>
internal sealed record NginxDirective(string Name, IReadOnlyList<string> Arguments, IReadOnlyList<NginxDirective>? Block)
{
    public static List<NginxDirective> Parse(string text)
    {
        var tokens = new List<string>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimStart().StartsWith('#') ? "" : raw; // whole-line comments (the files at hand have no others)
            var word = new StringBuilder();
            var quote = '\0';
            foreach (var c in line)
            {
                // A quoted string is one token, whatever it holds (log formats quote braces).
                if (quote != '\0' || c is '\'' or '"')
                {
                    quote = quote == '\0' ? c : (c == quote ? '\0' : quote);
                    word.Append(c);
                }
                else if (char.IsWhiteSpace(c) || c is ';' or '{' or '}')
                {
                    if (word.Length > 0)
                    {
                        tokens.Add(word.ToString());
                        word.Clear();
                    }

                    if (!char.IsWhiteSpace(c))
                    {
                        tokens.Add(c.ToString());
                    }
                }
                else
                {
                    word.Append(c);
                }
            }

            if (word.Length > 0)
            {
                tokens.Add(word.ToString());
            }
        }

        var position = 0;
        var result = ParseBlock(tokens, ref position);
        return position == tokens.Count ? result : throw new InvalidDataException("unbalanced '}'");
    }

    /// <summary>This directive and every one nested in it.</summary>
    public IEnumerable<NginxDirective> Descendants() => [this, .. (Block ?? []).SelectMany(d => d.Descendants())];

    private static List<NginxDirective> ParseBlock(List<string> tokens, ref int position)
    {
        var list = new List<NginxDirective>();
        while (position < tokens.Count && tokens[position] != "}")
        {
            var name = tokens[position++];
            var arguments = new List<string>();
            while (tokens[position] is not (";" or "{"))
            {
                arguments.Add(tokens[position++]);
            }

            if (tokens[position++] == "{")
            {
                var block = ParseBlock(tokens, ref position);
                if (position >= tokens.Count)
                {
                    throw new InvalidDataException($"'{name}' block not closed");
                }

                position++;
                list.Add(new NginxDirective(name, arguments, block));
            }
            else
            {
                list.Add(new NginxDirective(name, arguments, null));
            }
        }

        return list;
    }
}
