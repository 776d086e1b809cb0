using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace MoePlan.Core.Placement;

/// <summary>
/// Omni Placement's placement pattern, the file its YAML names as <c>pattern_path</c>: a 0/1 matrix of shape
/// (devices, MoE layers, routed experts) with 1 where the device holds a copy of the layer's expert (replicas are
/// several 1s in one (layer, expert) column; uneven layers are rows with more or fewer 1s). Omni-Infer's
/// <c>expert_mapping.py</c> loads it with <c>np.load(...).astype(np.int32)</c> and rejects any other shape; its own
/// patterns and pattern tool use little-endian int32 ('&lt;i4'), so that is what is written.
/// </summary>
public static class OmniPlacementPattern
{
    public static byte[] Npy(ExpertPlacement placement)
    {
        ArgumentNullException.ThrowIfNull(placement);
        var devices = placement.Devices;
        var layers = placement.Layers.Length;
        var experts = placement.Experts;
        var values = new int[checked(devices * layers * experts)];
        for (var l = 0; l < layers; l++)
        {
            var layer = placement.Layers[l];
            for (var d = 0; d < layer.Devices; d++)
            {
                foreach (var expert in layer.DeviceExperts[d])
                {
                    values[(((d * layers) + l) * experts) + expert] = 1;
                }
            }
        }

        return NumPyFile.Int32([devices, layers, experts], values);
    }
}

/// <summary>
/// NumPy's .npy format, version 1.0 (numpy.lib.format): the magic "\x93NUMPY", version bytes 1 0, a little-endian
/// uint16 header length, then an ASCII Python dict literal with 'descr', 'fortran_order' and 'shape', padded with
/// spaces and ended by '\n' so the data starts at a multiple of 64 bytes; then the values in C order.
/// </summary>
public static class NumPyFile
{
    private const int Alignment = 64;

    /// <summary>A little-endian int32 ('&lt;i4') array of the given shape, C (row-major) order.</summary>
    public static byte[] Int32(IReadOnlyList<int> shape, ReadOnlySpan<int> values)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var count = shape.Aggregate(1L, (product, n) => product * n);
        if (shape.Any(n => n < 0) || count != values.Length)
        {
            throw new ArgumentException($"{values.Length} values do not fill shape ({string.Join(", ", shape)})", nameof(shape));
        }

        // A one-element tuple needs its trailing comma in Python: (n,).
        var tuple = shape.Count == 1
            ? $"({shape[0].ToString(CultureInfo.InvariantCulture)},)"
            : "(" + string.Join(", ", shape.Select(n => n.ToString(CultureInfo.InvariantCulture))) + ")";
        var dict = $"{{'descr': '<i4', 'fortran_order': False, 'shape': {tuple}, }}";
        const int preamble = 10; // magic (6) + version (2) + header length (2)
        var padded = ((preamble + dict.Length + 1 + Alignment - 1) / Alignment * Alignment) - preamble;
        var header = dict.PadRight(padded - 1) + "\n";
        if (header.Length > ushort.MaxValue)
        {
            throw new ArgumentException("the shape is too long for a version 1.0 header", nameof(shape));
        }

        var bytes = new byte[preamble + header.Length + (4L * values.Length)];
        bytes[0] = 0x93;
        Encoding.ASCII.GetBytes("NUMPY", bytes.AsSpan(1));
        bytes[6] = 1;
        bytes[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)header.Length);
        Encoding.ASCII.GetBytes(header, bytes.AsSpan(preamble));
        var data = bytes.AsSpan(preamble + header.Length);
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(data[(4 * i)..], values[i]);
        }

        return bytes;
    }
}
