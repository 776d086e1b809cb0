using MoePlan.Emulation.Emulator;

namespace MoePlan.Emulation.Moe;

/// <summary>A link class: bandwidth per direction per device and one-way latency.</summary>
public sealed record LinkSpec(double BytesPerSecond, double LatencySeconds);

/// <summary>The memory of one emulated device: named float32 buffers. Data sent between devices is
/// copied from the sender's buffers into the receiver's.</summary>
public sealed class DeviceMemory
{
    private readonly Dictionary<string, float[]> _buffers = new(StringComparer.Ordinal);

    public DeviceMemory(int index) => Index = index;

    public int Index { get; }

    public void Put(string name, float[] data) => _buffers[name] = data;

    public float[] Get(string name) =>
        _buffers.TryGetValue(name, out var data) ? data : throw new InvalidOperationException($"device {Index} has no buffer '{name}'");

    public bool TryGet(string name, out float[] data) => _buffers.TryGetValue(name, out data!);

    public void Remove(string name) => _buffers.Remove(name);
}

/// <summary>
/// Emulated devices in nodes, connected by an intra-node link class (scale-up) and an inter-node one
/// (scale-out). An all-to-all copies every message into the receiver's memory and costs, per device,
/// max over link classes and directions of bytes / bandwidth, plus the largest latency of a link
/// class it used; the collective takes the slowest device's time (devices send and receive in
/// parallel; a device's messages to itself are local copies and free).
/// </summary>
public sealed class Cluster
{
    private readonly DeviceMemory[] _memories;

    public Cluster(int devices, int devicesPerNode, LinkSpec intraNode, LinkSpec interNode, DeviceSpec device)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(devices);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(devicesPerNode);
        DevicesPerNode = devicesPerNode;
        IntraNode = intraNode;
        InterNode = interNode;
        Device = device;
        _memories = Enumerable.Range(0, devices).Select(i => new DeviceMemory(i)).ToArray();
    }

    public int Devices => _memories.Length;
    public int DevicesPerNode { get; }
    public LinkSpec IntraNode { get; }
    public LinkSpec InterNode { get; }
    public DeviceSpec Device { get; }
    public IReadOnlyList<DeviceMemory> Memory => _memories;

    /// <summary>Bytes moved between devices so far (local copies excluded).</summary>
    public long BytesMoved { get; private set; }

    public bool SameNode(int a, int b) => a / DevicesPerNode == b / DevicesPerNode;

    /// <summary>One message of an all-to-all: <paramref name="Data"/> is copied into the receiver's
    /// buffer <paramref name="Name"/>; <paramref name="Bytes"/> is its size on the wire.</summary>
    public sealed record Message(int Source, int Destination, string Name, float[] Data, long Bytes);

    /// <summary>Delivers the messages; returns the collective's time in seconds.</summary>
    public double AllToAll(IEnumerable<Message> messages)
    {
        var intraOut = new long[Devices];
        var intraIn = new long[Devices];
        var interOut = new long[Devices];
        var interIn = new long[Devices];
        foreach (var m in messages)
        {
            _memories[m.Destination].Put(m.Name, (float[])m.Data.Clone());
            if (m.Source == m.Destination)
            {
                continue;
            }

            BytesMoved += m.Bytes;
            if (SameNode(m.Source, m.Destination))
            {
                intraOut[m.Source] += m.Bytes;
                intraIn[m.Destination] += m.Bytes;
            }
            else
            {
                interOut[m.Source] += m.Bytes;
                interIn[m.Destination] += m.Bytes;
            }
        }

        double time = 0;
        for (int d = 0; d < Devices; d++)
        {
            double intra = Math.Max(intraOut[d], intraIn[d]);
            double inter = Math.Max(interOut[d], interIn[d]);
            double t = Math.Max(intra / IntraNode.BytesPerSecond, inter / InterNode.BytesPerSecond)
                + Math.Max(intra > 0 ? IntraNode.LatencySeconds : 0, inter > 0 ? InterNode.LatencySeconds : 0);
            time = Math.Max(time, t);
        }

        return time;
    }
}
