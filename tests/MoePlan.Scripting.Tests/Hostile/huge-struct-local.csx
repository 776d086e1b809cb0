// expect: MP4023 (16,5)
// A local of a 16 MB struct (nested eight by eight): the frame does not fit the stack, which overflows on entry.
using MoePlan.Scheduling;

struct S0 { public long A, B, C, D, E, F, G, H; }
struct S1 { public S0 A, B, C, D, E, F, G, H; }
struct S2 { public S1 A, B, C, D, E, F, G, H; }
struct S3 { public S2 A, B, C, D, E, F, G, H; }
struct S4 { public S3 A, B, C, D, E, F, G, H; }
struct S5 { public S4 A, B, C, D, E, F, G, H; }
struct S6 { public S5 A, B, C, D, E, F, G, H; }
struct S7 { public S6 A, B, C, D, E, F, G, H; }

class S : Scheduler
{
    public override int ChoosePrefill(IRequestView r, IClusterState c)
    {
        S7 big = default;
        return (int)(big.A.A.A.A.A.A.A.A % 2);
    }
}

new S()
