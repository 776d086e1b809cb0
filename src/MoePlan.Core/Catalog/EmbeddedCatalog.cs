using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace MoePlan.Core.Catalog;

/// <summary>
/// The models and accelerators moeplan knows by name, read once from the YAML files embedded in this
/// assembly (<c>Catalog/Data/models.yaml</c>, <c>Catalog/Data/hardware.yaml</c>). The catalog ships with the
/// compiler, so a malformed entry is a programming error: loading throws <see cref="InvalidOperationException"/>
/// naming the entry, and a unit test loads both files.
/// </summary>
public sealed partial class EmbeddedCatalog
{
    private const string ModelsResource = "MoePlan.Catalog.models.yaml";
    private const string HardwareResource = "MoePlan.Catalog.hardware.yaml";

    private static readonly Lazy<EmbeddedCatalog> LazyInstance = new(Load);

    private readonly ImmutableDictionary<string, ModelEntry> _modelsByName;
    private readonly ImmutableDictionary<string, HardwareEntry> _hardwareByName;

    private EmbeddedCatalog(ImmutableArray<ModelEntry> models, ImmutableArray<HardwareEntry> hardware)
    {
        Models = models;
        Hardware = hardware;
        _modelsByName = Index(models, m => m.Name, m => m.Aliases, "model");
        _hardwareByName = Index(hardware, h => h.Name, h => h.Aliases, "hardware");
    }

    /// <summary>The catalog embedded in this assembly (loaded on first use).</summary>
    public static EmbeddedCatalog Instance => LazyInstance.Value;

    /// <summary>Models in file order.</summary>
    public ImmutableArray<ModelEntry> Models { get; }

    /// <summary>Accelerators in file order.</summary>
    public ImmutableArray<HardwareEntry> Hardware { get; }

    /// <summary>The model with this name or alias (case-insensitive), or null.</summary>
    public ModelEntry? FindModel(string nameOrAlias) =>
        _modelsByName.TryGetValue(nameOrAlias, out var model) ? model : null;

    /// <summary>The accelerator with this name or alias (case-insensitive), or null.</summary>
    public HardwareEntry? FindHardware(string nameOrAlias) =>
        _hardwareByName.TryGetValue(nameOrAlias, out var hardware) ? hardware : null;

    /// <summary>Parses catalog YAML text (the embedded files; internal so tests can feed broken text).</summary>
    internal static EmbeddedCatalog Parse(string modelsYaml, string hardwareYaml)
    {
        var models = ReadEntries(modelsYaml, "models.yaml", ReadModel).Select(MapModel).ToImmutableArray();
        var hardware = ReadEntries(hardwareYaml, "hardware.yaml", ReadHardware).Select(MapHardware).ToImmutableArray();
        return new EmbeddedCatalog(models, hardware);
    }

    private static EmbeddedCatalog Load() => Parse(ReadResource(ModelsResource), ReadResource(HardwareResource));

    private static string ReadResource(string name)
    {
        using var stream = typeof(EmbeddedCatalog).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Embedded catalog resource '{name}' is missing.");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, checked((int)buffer.Length));
    }

    /// <summary>
    /// The file's list of entries, each mapping read by hand from YamlDotNet's node tree: no reflection, so loading the
    /// catalog costs a command's startup a few milliseconds, not the JIT-compiled accessors of a reflection
    /// deserializer. Keys are the records' properties in snake_case; an unknown key is an error, as a typo would be.
    /// </summary>
    private static List<T> ReadEntries<T>(string yaml, string file, Func<YamlMappingNode, string, T> read)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            throw new InvalidOperationException($"Embedded catalog {file} is malformed at line {e.Start.Line}: {e.Message}", e);
        }

        return stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode
            ? throw new InvalidOperationException($"Embedded catalog {file} is empty.")
            : stream.Documents[0].RootNode is YamlSequenceNode list
                ? list.Children.Select(entry => read(Mapping(entry, file), file)).ToList()
                : throw Malformed(stream.Documents[0].RootNode, file, "the file must be a list of entries");
    }

    private static ModelDto ReadModel(YamlMappingNode node, string file)
    {
        var dto = new ModelDto();
        foreach (var (key, value) in Entries(node, file))
        {
            switch (key)
            {
                case "name": dto.Name = Text(value, file); break;
                case "display_name": dto.DisplayName = Text(value, file); break;
                case "aliases": dto.Aliases = Texts(value, file); break;
                case "hugging_face_id": dto.HuggingFaceId = Text(value, file); break;
                case "native_weight_precision": dto.NativeWeightPrecision = Text(value, file); break;
                case "source": dto.Source = Text(value, file); break;
                case "architecture": dto.Architecture = ReadArchitecture(Mapping(value, file), file); break;
                case "published": dto.Published = ReadPublished(Mapping(value, file), file); break;
                default: throw UnknownKey(value, file, key);
            }
        }

        return dto;
    }

    private static ArchitectureDto ReadArchitecture(YamlMappingNode node, string file)
    {
        var dto = new ArchitectureDto();
        foreach (var (key, value) in Entries(node, file))
        {
            switch (key)
            {
                case "layers": dto.Layers = Integer(value, file); break;
                case "hidden_size": dto.HiddenSize = Integer(value, file); break;
                case "dense_intermediate_size": dto.DenseIntermediateSize = Integer(value, file); break;
                case "moe_intermediate_size": dto.MoeIntermediateSize = Integer(value, file); break;
                case "routed_experts": dto.RoutedExperts = Integer(value, file); break;
                case "shared_experts": dto.SharedExperts = Integer(value, file); break;
                case "shared_expert_intermediate_size": dto.SharedExpertIntermediateSize = Integer(value, file); break;
                case "top_k": dto.TopK = Integer(value, file); break;
                case "first_dense_layers": dto.FirstDenseLayers = Integer(value, file); break;
                case "expert_groups": dto.ExpertGroups = Integer(value, file); break;
                case "top_k_groups": dto.TopKGroups = Integer(value, file); break;
                case "vocab_size": dto.VocabSize = Integer(value, file); break;
                case "max_position_embeddings": dto.MaxPositionEmbeddings = Integer(value, file); break;
                case "mtp_layers": dto.MtpLayers = Integer(value, file); break;
                case "tie_word_embeddings": dto.TieWordEmbeddings = Boolean(value, file); break;
                case "routed_scaling_factor": dto.RoutedScalingFactor = Number(value, file); break;
                case "scoring_function": dto.ScoringFunction = Text(value, file); break;
                case "sandwich_norm": dto.SandwichNorm = Boolean(value, file); break;
                case "shared_expert_gate": dto.SharedExpertGate = Boolean(value, file); break;
                case "attention": dto.Attention = ReadAttention(Mapping(value, file), file); break;
                default: throw UnknownKey(value, file, key);
            }
        }

        return dto;
    }

    private static AttentionDto ReadAttention(YamlMappingNode node, string file)
    {
        var dto = new AttentionDto();
        foreach (var (key, value) in Entries(node, file))
        {
            switch (key)
            {
                case "kind": dto.Kind = Text(value, file); break;
                case "heads": dto.Heads = Integer(value, file); break;
                case "q_lora_rank": dto.QLoraRank = Integer(value, file); break;
                case "kv_lora_rank": dto.KvLoraRank = Integer(value, file); break;
                case "qk_nope_head_dim": dto.QkNopeHeadDim = Integer(value, file); break;
                case "qk_rope_head_dim": dto.QkRopeHeadDim = Integer(value, file); break;
                case "v_head_dim": dto.VHeadDim = Integer(value, file); break;
                case "key_value_heads": dto.KeyValueHeads = Integer(value, file); break;
                case "head_dim": dto.HeadDim = Integer(value, file); break;
                case "qkv_bias": dto.QkvBias = Boolean(value, file); break;
                case "qk_norm": dto.QkNorm = Boolean(value, file); break;
                default: throw UnknownKey(value, file, key);
            }
        }

        return dto;
    }

    private static PublishedDto ReadPublished(YamlMappingNode node, string file)
    {
        var dto = new PublishedDto();
        foreach (var (key, value) in Entries(node, file))
        {
            switch (key)
            {
                case "total_billions": dto.TotalBillions = Number(value, file); break;
                case "active_billions": dto.ActiveBillions = Number(value, file); break;
                case "source": dto.Source = Text(value, file); break;
                default: throw UnknownKey(value, file, key);
            }
        }

        return dto;
    }

    private static HardwareDto ReadHardware(YamlMappingNode node, string file)
    {
        var dto = new HardwareDto();
        foreach (var (key, value) in Entries(node, file))
        {
            switch (key)
            {
                case "name": dto.Name = Text(value, file); break;
                case "display_name": dto.DisplayName = Text(value, file); break;
                case "aliases": dto.Aliases = Texts(value, file); break;
                case "vendor": dto.Vendor = Text(value, file); break;
                case "family": dto.Family = Text(value, file); break;
                case "dies_per_package": dto.DiesPerPackage = Integer(value, file); break;
                case "dies_per_package_source": dto.DiesPerPackageSource = Text(value, file); break;
                case "estimated": dto.Estimated = Boolean(value, file); break;
                case "bf16_tera_flops_per_package": dto.Bf16TeraFlopsPerPackage = ReadSourcedNumber(value, file); break;
                case "fp8_tera_flops_per_package": dto.Fp8TeraFlopsPerPackage = ReadSourcedNumber(value, file); break;
                case "fp4_tera_flops_per_package": dto.Fp4TeraFlopsPerPackage = ReadSourcedNumber(value, file); break;
                case "int8_tera_ops_per_package": dto.Int8TeraOpsPerPackage = ReadSourcedNumber(value, file); break;
                case "hbm_bytes_per_package": dto.HbmBytesPerPackage = ReadSourcedNumber(value, file); break;
                case "hbm_bytes_per_second_per_package": dto.HbmBytesPerSecondPerPackage = ReadSourcedNumber(value, file); break;
                case "scale_up_bytes_per_second_per_direction": dto.ScaleUpBytesPerSecondPerDirection = ReadSourcedNumber(value, file); break;
                case "scale_up_latency_microseconds": dto.ScaleUpLatencyMicroseconds = ReadSourcedNumber(value, file); break;
                case "scale_out_bytes_per_second_per_direction": dto.ScaleOutBytesPerSecondPerDirection = ReadSourcedNumber(value, file); break;
                case "devices_per_node": dto.DevicesPerNode = ReadSourcedNumber(value, file); break;
                case "scale_up_domain_packages": dto.ScaleUpDomainPackages = ReadSourcedNumber(value, file); break;
                default: throw UnknownKey(value, file, key);
            }
        }

        return dto;
    }

    private static SourcedNumberDto? ReadSourcedNumber(YamlNode value, string file)
    {
        if (IsNull(value))
        {
            return null;
        }

        var dto = new SourcedNumberDto();
        foreach (var (key, item) in Entries(Mapping(value, file), file))
        {
            switch (key)
            {
                case "value": dto.Value = Number(item, file); break;
                case "source": dto.Source = Text(item, file); break;
                default: throw UnknownKey(item, file, key);
            }
        }

        return dto;
    }

    private static IEnumerable<(string Key, YamlNode Value)> Entries(YamlMappingNode node, string file) =>
        node.Children.Select(pair => pair.Key is YamlScalarNode { Value: { } key }
            ? (key, pair.Value)
            : throw Malformed(pair.Key, file, "a key must be a plain name"));

    private static YamlMappingNode Mapping(YamlNode node, string file) =>
        node as YamlMappingNode ?? throw Malformed(node, file, "expected a mapping of keys to values");

    /// <summary>An empty value, <c>~</c> or <c>null</c> (unquoted), as YAML's core schema reads them.</summary>
    private static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any, Value: null or "" or "~" or "null" or "Null" or "NULL" };

    private static string? Text(YamlNode node, string file) =>
        IsNull(node) ? null : (node as YamlScalarNode)?.Value ?? throw Malformed(node, file, "expected a single value");

    private static List<string>? Texts(YamlNode node, string file) =>
        IsNull(node) ? null : node is YamlSequenceNode list
            ? list.Children.Select(item => Text(item, file) ?? throw Malformed(item, file, "a list item is empty")).ToList()
            : throw Malformed(node, file, "expected a list");

    private static int? Integer(YamlNode node, string file) =>
        Text(node, file) is not { } text ? null
        : int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) ? value
        : throw Malformed(node, file, $"'{text}' is not a whole number");

    private static double? Number(YamlNode node, string file) =>
        Text(node, file) is not { } text ? null
        : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value
        : throw Malformed(node, file, $"'{text}' is not a number");

    private static bool? Boolean(YamlNode node, string file) => Text(node, file) switch
    {
        null => null,
        "true" or "True" or "TRUE" => true,
        "false" or "False" or "FALSE" => false,
        var text => throw Malformed(node, file, $"'{text}' is not true or false"),
    };

    private static InvalidOperationException UnknownKey(YamlNode value, string file, string key) =>
        Malformed(value, file, $"unknown key '{key}'");

    private static InvalidOperationException Malformed(YamlNode node, string file, string problem) =>
        new($"Embedded catalog {file} is malformed at line {node.Start.Line}: {problem}.");

    private static ImmutableDictionary<string, T> Index<T>(
        ImmutableArray<T> entries, Func<T, string> name, Func<T, ImmutableArray<string>> aliases, string kind)
    {
        var index = ImmutableDictionary.CreateBuilder<string, T>(StringComparer.OrdinalIgnoreCase);
        foreach (var entry in entries)
        {
            foreach (var key in aliases(entry).Prepend(name(entry)))
            {
                if (!index.TryAdd(key, entry))
                {
                    throw new InvalidOperationException(
                        $"Embedded {kind} catalog: name or alias '{key}' of '{name(entry)}' is already used.");
                }
            }
        }

        return index.ToImmutable();
    }

    [GeneratedRegex("^[a-z0-9]+(?:[-.][a-z0-9]+)*$", RegexOptions.CultureInvariant)]
    private static partial Regex KebabName();

    private static void CheckName(string? name, ImmutableArray<string> aliases, string kind)
    {
        if (name is null || !KebabName().IsMatch(name))
        {
            throw new InvalidOperationException($"Embedded {kind} catalog: entry name '{name}' is not lower-case kebab.");
        }

        foreach (var alias in aliases.Where(a => !KebabName().IsMatch(a)))
        {
            throw new InvalidOperationException($"Embedded {kind} catalog entry '{name}': alias '{alias}' is not lower-case kebab.");
        }
    }

    // ---- models -------------------------------------------------------------------------------

    private static ModelEntry MapModel(ModelDto dto)
    {
        var aliases = (dto.Aliases ?? []).ToImmutableArray();
        CheckName(dto.Name, aliases, "model");
        var name = dto.Name!;
        string Required(string? value, string field) =>
            string.IsNullOrWhiteSpace(value) ? throw Bad(name, field, "is required") : value;

        var precision = Required(dto.NativeWeightPrecision, "native_weight_precision");
        if (precision is not ("bf16" or "fp16" or "fp32" or "fp8" or "int8" or "int4" or "nvfp4" or "mxfp4"))
        {
            throw Bad(name, "native_weight_precision", $"'{precision}' is not one of bf16, fp16, fp32, fp8, int8, int4, nvfp4, mxfp4");
        }

        var architecture = MapArchitecture(name, dto.Architecture ?? throw Bad(name, "architecture", "is required"));
        PublishedParameters? published = null;
        if (dto.Published is { } p)
        {
            published = new PublishedParameters(
                Positive(name, "published.total_billions", p.TotalBillions),
                Positive(name, "published.active_billions", p.ActiveBillions),
                Required(p.Source, "published.source"));
        }

        return new ModelEntry(
            name,
            Required(dto.DisplayName, "display_name"),
            aliases,
            dto.HuggingFaceId,
            precision,
            architecture,
            published,
            Required(dto.Source, "source"));
    }

    private static ModelArchitecture MapArchitecture(string name, ArchitectureDto a)
    {
        int Count(string field, int? value, int minimum)
        {
            var v = value ?? throw Bad(name, "architecture." + field, "is required");
            return v >= minimum ? v : throw Bad(name, "architecture." + field, $"is {v}, must be at least {minimum}");
        }

        var attention = a.Attention ?? throw Bad(name, "architecture.attention", "is required");
        AttentionArchitecture mapped = attention.Kind switch
        {
            "mla" => new MlaAttention(
                Count("attention.heads", attention.Heads, 1),
                Count("attention.q_lora_rank", attention.QLoraRank, 0),
                Count("attention.kv_lora_rank", attention.KvLoraRank, 1),
                Count("attention.qk_nope_head_dim", attention.QkNopeHeadDim, 1),
                Count("attention.qk_rope_head_dim", attention.QkRopeHeadDim, 0),
                Count("attention.v_head_dim", attention.VHeadDim, 1)),
            "gqa" => new GroupedQueryAttention(
                Count("attention.heads", attention.Heads, 1),
                Count("attention.key_value_heads", attention.KeyValueHeads, 1),
                Count("attention.head_dim", attention.HeadDim, 1),
                attention.QkvBias ?? throw Bad(name, "architecture.attention.qkv_bias", "is required"),
                attention.QkNorm ?? throw Bad(name, "architecture.attention.qk_norm", "is required")),
            _ => throw Bad(name, "architecture.attention.kind", $"'{attention.Kind}' is not mla or gqa"),
        };

        var architecture = new ModelArchitecture(
            Count("layers", a.Layers, 1),
            Count("hidden_size", a.HiddenSize, 1),
            Count("dense_intermediate_size", a.DenseIntermediateSize, 0),
            Count("moe_intermediate_size", a.MoeIntermediateSize, 1),
            Count("routed_experts", a.RoutedExperts, 1),
            Count("shared_experts", a.SharedExperts, 0),
            Count("shared_expert_intermediate_size", a.SharedExpertIntermediateSize, 0),
            Count("top_k", a.TopK, 1),
            Count("first_dense_layers", a.FirstDenseLayers, 0),
            Count("expert_groups", a.ExpertGroups, 1),
            Count("top_k_groups", a.TopKGroups, 1),
            mapped,
            Count("vocab_size", a.VocabSize, 1),
            Count("mtp_layers", a.MtpLayers, 0),
            a.TieWordEmbeddings ?? throw Bad(name, "architecture.tie_word_embeddings", "is required"),
            Positive(name, "architecture.routed_scaling_factor", a.RoutedScalingFactor),
            a.ScoringFunction is "sigmoid" or "softmax"
                ? a.ScoringFunction
                : throw Bad(name, "architecture.scoring_function", $"'{a.ScoringFunction}' is not sigmoid or softmax"))
        {
            SandwichNorm = a.SandwichNorm ?? false,
            SharedExpertGate = a.SharedExpertGate ?? false,
            MaxPositionEmbeddings = a.MaxPositionEmbeddings is { } positions ? Count("max_position_embeddings", positions, 1) : null,
        };

        if (architecture.TopK > architecture.RoutedExperts)
        {
            throw Bad(name, "architecture.top_k", "exceeds routed_experts");
        }

        if (architecture.FirstDenseLayers > architecture.Layers)
        {
            throw Bad(name, "architecture.first_dense_layers", "exceeds layers");
        }

        if (architecture.FirstDenseLayers > 0 && architecture.DenseIntermediateSize == 0)
        {
            throw Bad(name, "architecture.dense_intermediate_size", "is 0 but the model has dense layers");
        }

        if (architecture.SharedExperts > 0 && architecture.SharedExpertIntermediateSize == 0)
        {
            throw Bad(name, "architecture.shared_expert_intermediate_size", "is 0 but the model has shared experts");
        }

        if (architecture.TopKGroups > architecture.ExpertGroups || architecture.RoutedExperts % architecture.ExpertGroups != 0)
        {
            throw Bad(name, "architecture.expert_groups", "must divide routed_experts and be at least top_k_groups");
        }

        return architecture;
    }

    // ---- hardware -----------------------------------------------------------------------------

    private static HardwareEntry MapHardware(HardwareDto dto)
    {
        var aliases = (dto.Aliases ?? []).ToImmutableArray();
        CheckName(dto.Name, aliases, "hardware");
        var name = dto.Name!;
        string Required(string? value, string field) =>
            string.IsNullOrWhiteSpace(value) ? throw Bad(name, field, "is required") : value;

        var sources = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);

        double? Figure(string property, SourcedNumberDto? figure)
        {
            if (figure is null)
            {
                return null;
            }

            var value = Positive(name, property, figure.Value);
            sources[property] = Required(figure.Source, property + ".source");
            return value;
        }

        long? WholeFigure(string property, SourcedNumberDto? figure) => Figure(property, figure) switch
        {
            null => null,
            var v when v.Value == Math.Floor(v.Value) && v.Value <= long.MaxValue => (long)v.Value,
            var v => throw Bad(name, property, $"{v.Value.ToString(CultureInfo.InvariantCulture)} is not a whole number"),
        };

        int? SmallFigure(string property, SourcedNumberDto? figure) => WholeFigure(property, figure) switch
        {
            null => null,
            var v when v.Value <= int.MaxValue => (int)v.Value,
            _ => throw Bad(name, property, "is too large"),
        };

        var dies = dto.DiesPerPackage ?? throw Bad(name, "dies_per_package", "is required");
        if (dies < 1)
        {
            throw Bad(name, "dies_per_package", "must be at least 1");
        }

        if (dies > 1)
        {
            sources[nameof(HardwareEntry.DiesPerPackage)] = Required(dto.DiesPerPackageSource, "dies_per_package_source");
        }

        var entry = new HardwareEntry(
            name,
            Required(dto.DisplayName, "display_name"),
            Required(dto.Vendor, "vendor"),
            Required(dto.Family, "family"),
            dies,
            Figure(nameof(HardwareEntry.Bf16TeraFlopsPerPackage), dto.Bf16TeraFlopsPerPackage),
            Figure(nameof(HardwareEntry.Fp8TeraFlopsPerPackage), dto.Fp8TeraFlopsPerPackage),
            Figure(nameof(HardwareEntry.Int8TeraOpsPerPackage), dto.Int8TeraOpsPerPackage),
            WholeFigure(nameof(HardwareEntry.HbmBytesPerPackage), dto.HbmBytesPerPackage),
            Figure(nameof(HardwareEntry.HbmBytesPerSecondPerPackage), dto.HbmBytesPerSecondPerPackage),
            Figure(nameof(HardwareEntry.ScaleUpBytesPerSecondPerDirection), dto.ScaleUpBytesPerSecondPerDirection),
            Figure(nameof(HardwareEntry.ScaleUpLatencyMicroseconds), dto.ScaleUpLatencyMicroseconds),
            Figure(nameof(HardwareEntry.ScaleOutBytesPerSecondPerDirection), dto.ScaleOutBytesPerSecondPerDirection),
            SmallFigure(nameof(HardwareEntry.DevicesPerNode), dto.DevicesPerNode),
            dto.Estimated ?? throw Bad(name, "estimated", "is required"),
            ImmutableSortedDictionary<string, string>.Empty)
        {
            Aliases = aliases,
            Fp4TeraFlopsPerPackage = Figure(nameof(HardwareEntry.Fp4TeraFlopsPerPackage), dto.Fp4TeraFlopsPerPackage),
            ScaleUpDomainPackages = SmallFigure(nameof(HardwareEntry.ScaleUpDomainPackages), dto.ScaleUpDomainPackages),
        };
        return entry with { Sources = sources.ToImmutable() };
    }

    private static double Positive(string name, string field, double? value) => value switch
    {
        null => throw Bad(name, field, "is required"),
        var v when double.IsFinite(v.Value) && v.Value > 0 => v.Value,
        var v => throw Bad(name, field, $"is {v.Value.ToString(CultureInfo.InvariantCulture)}, must be positive"),
    };

    private static InvalidOperationException Bad(string entry, string field, string problem) =>
        new($"Embedded catalog entry '{entry}': {field} {problem}.");

    // ---- YAML shapes (underscored names) ------------------------------------------------------

    private sealed class ModelDto
    {
        public string? Name { get; set; }

        public string? DisplayName { get; set; }

        public List<string>? Aliases { get; set; }

        public string? HuggingFaceId { get; set; }

        public string? NativeWeightPrecision { get; set; }

        public string? Source { get; set; }

        public ArchitectureDto? Architecture { get; set; }

        public PublishedDto? Published { get; set; }
    }

    private sealed class ArchitectureDto
    {
        public int? Layers { get; set; }

        public int? HiddenSize { get; set; }

        public int? DenseIntermediateSize { get; set; }

        public int? MoeIntermediateSize { get; set; }

        public int? RoutedExperts { get; set; }

        public int? SharedExperts { get; set; }

        public int? SharedExpertIntermediateSize { get; set; }

        public int? TopK { get; set; }

        public int? FirstDenseLayers { get; set; }

        public int? ExpertGroups { get; set; }

        public int? TopKGroups { get; set; }

        public int? VocabSize { get; set; }

        public int? MtpLayers { get; set; }

        public bool? TieWordEmbeddings { get; set; }

        public double? RoutedScalingFactor { get; set; }

        public string? ScoringFunction { get; set; }

        public bool? SandwichNorm { get; set; }

        public bool? SharedExpertGate { get; set; }

        public int? MaxPositionEmbeddings { get; set; }

        public AttentionDto? Attention { get; set; }
    }

    private sealed class AttentionDto
    {
        public string? Kind { get; set; }

        public int? Heads { get; set; }

        public int? QLoraRank { get; set; }

        public int? KvLoraRank { get; set; }

        public int? QkNopeHeadDim { get; set; }

        public int? QkRopeHeadDim { get; set; }

        public int? VHeadDim { get; set; }

        public int? KeyValueHeads { get; set; }

        public int? HeadDim { get; set; }

        public bool? QkvBias { get; set; }

        public bool? QkNorm { get; set; }
    }

    private sealed class PublishedDto
    {
        public double? TotalBillions { get; set; }

        public double? ActiveBillions { get; set; }

        public string? Source { get; set; }
    }

    private sealed class HardwareDto
    {
        public string? Name { get; set; }

        public string? DisplayName { get; set; }

        public List<string>? Aliases { get; set; }

        public string? Vendor { get; set; }

        public string? Family { get; set; }

        public int? DiesPerPackage { get; set; }

        public string? DiesPerPackageSource { get; set; }

        public bool? Estimated { get; set; }

        public SourcedNumberDto? Bf16TeraFlopsPerPackage { get; set; }

        public SourcedNumberDto? Fp8TeraFlopsPerPackage { get; set; }

        public SourcedNumberDto? Fp4TeraFlopsPerPackage { get; set; }

        public SourcedNumberDto? Int8TeraOpsPerPackage { get; set; }

        public SourcedNumberDto? HbmBytesPerPackage { get; set; }

        public SourcedNumberDto? HbmBytesPerSecondPerPackage { get; set; }

        public SourcedNumberDto? ScaleUpBytesPerSecondPerDirection { get; set; }

        public SourcedNumberDto? ScaleUpLatencyMicroseconds { get; set; }

        public SourcedNumberDto? ScaleOutBytesPerSecondPerDirection { get; set; }

        public SourcedNumberDto? DevicesPerNode { get; set; }

        public SourcedNumberDto? ScaleUpDomainPackages { get; set; }
    }

    private sealed class SourcedNumberDto
    {
        public double? Value { get; set; }

        public string? Source { get; set; }
    }
}
