// The two forms of the CPU mixer, per head, on gathered sequences
// (mixer_head.h). Both compute exactly the same function; the recurrent
// form is the reference, the chunked form the fast path.
#pragma once

#include <vector>

#include "mixer_head.h"

namespace linea::mixer {

// Forward of one head: o (Tn x V), final state S (K x V) and z (K).
template <class T>
void recurrent_forward(const MixerParams& c, const HeadSeq<T>& s, std::vector<T>& o, std::vector<T>& S,
                       std::vector<T>& z);
template <class T>
void chunked_forward(const MixerParams& c, const HeadSeq<T>& s, std::vector<T>& o, std::vector<T>& S,
                     std::vector<T>& z);

// Backward of one head: recomputes the forward, fills every gradient.
template <class T>
void recurrent_backward(const MixerParams& c, const HeadSeq<T>& s, HeadGrads<T>& d);
template <class T>
void chunked_backward(const MixerParams& c, const HeadSeq<T>& s, HeadGrads<T>& d);

}  // namespace linea::mixer
