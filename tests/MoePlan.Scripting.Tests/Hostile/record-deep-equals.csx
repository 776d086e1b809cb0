// expect: MP4023 (12,5)
// Record members the compiler generates (Equals here) have no budget checks: comparing two 100,000-deep chains
// recurses until the stack overflows. The chains grow by 10,000 links per call (within the time budget).
using MoePlan.Scheduling;

record Node(Node? Next, int Value);

class S : Scheduler
{
    Node? a, b;
    int links;
    public override int ChoosePrefill(IRequestView r, IClusterState c)
    {
        for (int i = 0; i < 10_000; i++, links++)
        {
            a = new Node(a, i);
            b = new Node(b, i);
        }

        return links >= 100_000 && a == b ? 0 : 1;
    }
}

new S()
