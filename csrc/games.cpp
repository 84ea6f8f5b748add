// keisei._games: the per-ply work of keisei.env.ShogiEnv, in C++ on cshogi's own code.
//
// Python pays about 1 us per cshogi call, and a ply needs a push, a check test, a hash,
// the legal moves, the dlshogi planes and the move labels: more than half of an
// environment step went to that glue. Here the same cshogi functions (its vendored
// 1.1.0 sources, third_party/cshogi) run in one loop over the games per batch step.
// Rules, features and labels are cshogi's; this file holds only the bookkeeping
// keisei.env documents (repetition with perpetual check, endings, auto-reset hooks).
//
// Copyright (C) 2026 the keisei developers. GPL-3.0-or-later.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#if defined(HAVE_AVX2)
#include <immintrin.h>
#endif
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cshogi.h"

namespace py = pybind11;

namespace {

// Index into keisei.env.REASONS; kNone = the game goes on.
enum Reason : int8_t {
    kNone = -1,
    kCheckmate = 0,
    kNoLegalMoves = 1,
    kPerpetualCheck = 2,
    kRepetition = 3,
    kNyugyoku = 4,
    kMaxPlies = 5,
};

constexpr int kPlanes1 = 2 * MAX_FEATURES1_NUM;  // 62
constexpr int kPlanes2 = MAX_FEATURES2_NUM;      // 57
constexpr int kPlanes = kPlanes1 + kPlanes2;     // 119
constexpr int kActions = 27 * 81;                // dlshogi's 2187 move labels

struct Outcome {
    int8_t winner;  // 0 black, 1 white, -1 none (draw or not finished)
    int8_t reason;
};

struct Game {
    __Board board;
    std::vector<int> moves;
    // Ply of each position's first occurrence, and occurrence counts of the positions
    // seen more than once; checks[k]: the side to move was in check after k plies.
    std::unordered_map<unsigned long long, int> first_ply;
    std::unordered_map<unsigned long long, int> repeats;
    std::vector<char> checks;
    std::vector<int> legal;

    void set(const std::string& sfen) {
        board.set(sfen);
        moves.clear();
        first_ply.clear();
        repeats.clear();
        checks.clear();
        first_ply.emplace(board.getKey(), 0);
        checks.push_back(board.inCheck());
        generate_legal();
    }

    void generate_legal() {
        legal.clear();
        for (MoveList<LegalAll> ml(board.pos); !ml.end(); ++ml) legal.push_back(ml.move().value());
    }

    bool is_legal(int move) const {
        return std::find(legal.begin(), legal.end(), move) != legal.end();
    }

    // Plays a legal move and judges the position it leads to, with the ply limit: a game
    // that goes on after ``max_plies`` (> 0) moves is a draw. Both the batch step (push)
    // and one game (push_one: restored games, keisei.game.rules) are judged here.
    Outcome play(int move, int max_plies) {
        Outcome o = push(move);
        if (o.reason == kNone && max_plies > 0 && static_cast<int>(moves.size()) >= max_plies)
            o.reason = kMaxPlies;
        return o;
    }

    Outcome push(int move) {
        const int mover = board.turn();
        board.push(move);
        moves.push_back(move);
        const int ply = static_cast<int>(moves.size());
        const bool in_check = board.inCheck();
        checks.push_back(in_check);
        const unsigned long long key = board.getKey();
        const auto [it, inserted] = first_ply.emplace(key, ply);
        if (!inserted) {
            auto [rep, fresh] = repeats.emplace(key, 1);
            rep->second += 1;
            if (rep->second >= 4) return repetition(it->second, ply, mover);
        }
        generate_legal();
        if (legal.empty()) return {static_cast<int8_t>(mover), in_check ? kCheckmate : kNoLegalMoves};
        if (board.is_nyugyoku()) return {static_cast<int8_t>(1 - mover), kNyugyoku};
        return {-1, kNone};
    }

    // Fourfold repetition between plies ``first`` and ``now``: a side that gave check with
    // every one of its moves in between loses; otherwise a draw. Move j (0-based) leads to
    // position j + 1, and the mover of move now - 1 is ``mover``.
    Outcome repetition(int first, int now, int mover) const {
        bool always[2];
        for (int side = 0; side < 2; ++side) {  // 0: mover, 1: the other side
            bool any = false, all = true;
            for (int j = first; j < now; ++j) {
                if ((((now - 1 - j) & 1) == 0) != (side == 0)) continue;
                any = true;
                if (!checks[j + 1]) {
                    all = false;
                    break;
                }
            }
            always[side] = any && all;
        }
        if (always[0] && !always[1]) return {static_cast<int8_t>(1 - mover), kPerpetualCheck};
        if (always[1] && !always[0]) return {static_cast<int8_t>(mover), kPerpetualCheck};
        return {-1, kRepetition};
    }
};

// The output arrays are written in place, so they must be exactly what keisei.env made:
// pybind11 would otherwise hand over a converted copy and the writes would be lost.
// dlshogi's 119 input planes exactly as cshogi's __Board::_dlshogi_make_input_features
// (cshogi.h) writes them, but as uint8 and about 5x faster: cshogi fills 9,639 floats,
// tests 14 piece types on each of 81 squares per colour and calls attackersTo() for all
// 162 (square, colour) pairs; here each piece's attacks are computed once and the
// attacker counts accumulated from them (the same relation: attackersTo is defined as
// the reverse of attacksFrom). tests/test_env.py checks equality with cshogi's function.
void write_features(const Position& pos, uint8_t* out) {
    std::memset(out, 0, kPlanes * 81);
    const Bitboard occupied = pos.occupiedBB();
    const bool black = pos.turn() == Black;
    for (Color c = Black; c < ColorNum; ++c) {
        const int c2 = black ? c : oppositeColor(c);  // planes are for the side to move first
        uint8_t* f1 = out + c2 * MAX_FEATURES1_NUM * 81;
        uint8_t* counted = f1 + 2 * PIECETYPE_NUM * 81;  // planes "attacked by >= k + 1"
        uint8_t count[81] = {};
        Bitboard pieces = pos.bbOf(c);
        while (pieces.isAny()) {
            const Square sq = pieces.firstOneFromSQ11();
            const PieceType pt = pieceToPieceType(pos.piece(sq));
            f1[(pt - 1) * 81 + (black ? sq : SQ99 - sq)] = 1;
            uint8_t* attacked = f1 + (PIECETYPE_NUM + pt - 1) * 81;
            Bitboard attacks = Position::attacksFrom(pt, c, sq, occupied);
            while (attacks.isAny()) {
                const Square to = attacks.firstOneFromSQ11();
                const int to2 = black ? to : SQ99 - to;
                attacked[to2] = 1;
                const int k = count[to]++;
                if (k < MAX_ATTACK_NUM) counted[k * 81 + to2] = 1;
            }
        }
        // Pieces in hand: plane k of a kind is all ones when at least k + 1 are held.
        const Hand hand = pos.hand(c);
        uint8_t* f2 = out + (kPlanes1 + c2 * MAX_PIECES_IN_HAND_SUM) * 81;
        const HandPiece kinds[] = {HPawn, HLance, HKnight, HSilver, HGold, HBishop, HRook};
        for (int k = 0; k < 7; ++k) {
            const u32 held = std::min(hand.numOf(kinds[k]), MAX_PIECES_IN_HAND[k]);
            std::memset(f2, 1, held * 81);
            f2 += MAX_PIECES_IN_HAND[k] * 81;
        }
    }
    if (pos.inCheck()) std::memset(out + (kPlanes1 + MAX_FEATURES2_HAND_NUM) * 81, 1, 81);
}

// dlshogi's move label (cshogi's __dlshogi_make_move_label) of every (from, to, promotion,
// colour), computed once: the function divides squares by 9 through libc's div() and
// took a tenth of an environment step for ~80 legal moves per position.
class LabelTable {
public:
    LabelTable() {
        for (int color = 0; color < 2; ++color)
            for (int from = 0; from < kFrom; ++from)
                for (int to = 0; to < 81; ++to)
                    for (int promote = 0; promote < 2; ++promote) {
                        const int move16 = to | (from << 7) | (promote << 14);
                        table_[color][index(move16)] =
                            static_cast<int16_t>(__dlshogi_make_move_label(move16, color));
                    }
    }
    int operator()(int move, int color) const { return table_[color][index(move)]; }

private:
    static constexpr int kFrom = SquareNum + 7;  // board squares, then the 7 droppable kinds
    static int index(int move) {
        return ((((move >> 14) & 1) * kFrom + ((move >> 7) & 0x7f)) * 81) + (move & 0x7f);
    }
    int16_t table_[2][2 * kFrom * 81];
};

const LabelTable& label_table() {
    static const LabelTable table;
    return table;
}

template <typename T>
T* writable(py::array& a, py::ssize_t size, const char* name) {
    if (!a.dtype().is(py::dtype::of<T>()) || !(a.flags() & py::array::c_style) || !a.writeable() ||
        a.size() != size)
        throw std::invalid_argument(std::string(name) + ": expected a writable C-contiguous array of " +
                                    std::to_string(size) + " " + std::string(py::str(py::dtype::of<T>())));
    return static_cast<T*>(a.mutable_data());
}

constexpr int kObsBytes = (kPlanes * 81 + 7) / 8;  // 1205: np.packbits of one observation
constexpr int kMaskBytes = (kActions + 7) / 8;      // 274: np.packbits of one mask

// np.packbits of `count` 0/1 bytes: most significant bit first, the last byte zero-padded.
void pack_bits(const uint8_t* in, int count, uint8_t* out) {
    int i = 0;
#if defined(HAVE_AVX2)
    // 32 bytes at a time: reverse each group of 8 (np.packbits puts the first byte in the
    // top bit, movemask in the bottom one), move each 0/1 to its byte's top bit, gather.
    const __m256i reverse = _mm256_setr_epi8(7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6,
                                             5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8);
    for (; i + 32 <= count; i += 32, out += 4) {
        __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i));
        v = _mm256_slli_epi16(_mm256_shuffle_epi8(v, reverse), 7);
        const uint32_t bits = static_cast<uint32_t>(_mm256_movemask_epi8(v));
        std::memcpy(out, &bits, 4);  // little-endian: the first group lands in out[0]
    }
#endif
    for (; i + 8 <= count; i += 8)
        *out++ = static_cast<uint8_t>(in[i] << 7 | in[i + 1] << 6 | in[i + 2] << 5 | in[i + 3] << 4 |
                                      in[i + 4] << 3 | in[i + 5] << 2 | in[i + 6] << 1 | in[i + 7]);
    if (i < count) {
        uint8_t last = 0;
        for (int k = 0; i + k < count; ++k) last |= static_cast<uint8_t>(in[i + k] << (7 - k));
        *out = last;
    }
}

// Runs fn(begin, end) over [0, n) in up to `threads` contiguous chunks, the calling thread
// taking the first. Games are independent, so the result never depends on the split.
template <typename Fn>
void parallel_for(py::ssize_t n, int threads, Fn fn) {
    const py::ssize_t chunks = std::max<py::ssize_t>(1, std::min<py::ssize_t>(threads, n));
    if (chunks == 1) {
        fn(0, n);
        return;
    }
    std::vector<std::thread> workers;
    workers.reserve(static_cast<size_t>(chunks - 1));
    for (py::ssize_t c = 1; c < chunks; ++c)
        workers.emplace_back(fn, c * n / chunks, (c + 1) * n / chunks);
    fn(0, n / chunks);
    for (auto& w : workers) w.join();
}

class GameBatch {
public:
    explicit GameBatch(int n, int threads) : threads_(threads) {
        if (n < 1) throw std::invalid_argument("a batch needs at least one game");
        if (threads < 1) throw std::invalid_argument("threads must be at least 1");
        for (int i = 0; i < n; ++i) games_.push_back(std::make_unique<Game>());
    }

    int threads() const { return threads_; }

    int size() const { return static_cast<int>(games_.size()); }

    void set_game(int i, const std::string& sfen) { game(i).set(sfen); }

    // One move for each of the games begin, begin + 1, ... (as many as `moves` has; cshogi
    // move integers, already checked legal by the caller); writes each one's winner and
    // reason (kNone while it goes on). A range lets the trainer step half of the games
    // while the network evaluates the other half.
    void push(py::array_t<int64_t, py::array::c_style | py::array::forcecast> moves, int max_plies,
              py::array winner, py::array reason, py::ssize_t begin) {
        const py::ssize_t n = moves.size();
        check_range(begin, n);
        const int64_t* m = moves.data();
        int8_t* w = writable<int8_t>(winner, n, "winner");
        int8_t* r = writable<int8_t>(reason, n, "reason");
        // keisei.env checks actions against the masks; this guards the games themselves
        // (an illegal move would corrupt a cshogi position) and changes nothing on failure.
        for (py::ssize_t i = 0; i < n; ++i)
            if (!games_[begin + i]->is_legal(static_cast<int>(m[i])))
                throw std::invalid_argument("game " + std::to_string(begin + i) + ": move " +
                                            std::to_string(m[i]) + " is not legal in " +
                                            games_[begin + i]->board.toSFEN());
        py::gil_scoped_release release;
        parallel_for(n, threads_, [&](py::ssize_t first, py::ssize_t last) {
            for (py::ssize_t i = first; i < last; ++i) {
                const Outcome o = games_[begin + i]->play(static_cast<int>(m[i]), max_plies);
                w[i] = o.winner;
                r[i] = o.reason;
            }
        });
    }

    // One move in game i (restoring saved games, keisei.game.rules' one game), judged as
    // push judges it (max_plies 0: no ply limit); refuses an illegal one.
    std::pair<int, int> push_one(int i, int move, int max_plies) {
        Game& g = game(i);
        if (!g.is_legal(move))
            throw std::invalid_argument("game " + std::to_string(i) + ": move " + std::to_string(move) +
                                        " is not legal in " + g.board.toSFEN());
        const Outcome o = g.play(move, max_plies);
        return {o.winner, o.reason};
    }

    // Writes the dlshogi planes (uint8 0/1), side to move, plies, legal-action mask and
    // the move of each legal action of the games begin .. begin + count - 1 (every array
    // holds those games' rows only), and the planes and mask bit-packed as np.packbits
    // packs them (for the rollout buffer and a GPU: an eighth of the bytes); returns the
    // legal action ids of those games concatenated, their counts per game, and the first
    // game in which two legal moves share an action id (-1 if none).
    py::tuple observe(py::array obs, py::array mask, py::array move_of, py::array to_move, py::array plies,
                      py::array obs_bits, py::array mask_bits, py::ssize_t begin, py::ssize_t count) {
        if (count < 0) count = size() - begin;
        check_range(begin, count);
        const py::ssize_t n = count;
        uint8_t* o = writable<uint8_t>(obs, n * kPlanes * 81, "obs");
        bool* mk = writable<bool>(mask, n * kActions, "mask");
        uint8_t* ob = writable<uint8_t>(obs_bits, n * kObsBytes, "obs_bits");
        uint8_t* mb = writable<uint8_t>(mask_bits, n * kMaskBytes, "mask_bits");
        int64_t* mo = writable<int64_t>(move_of, n * kActions, "move_of");
        int8_t* tm = writable<int8_t>(to_move, n, "to_move");
        int32_t* pl = writable<int32_t>(plies, n, "plies");
        const auto game_at = [&](py::ssize_t i) -> const Game& { return *games_[begin + i]; };
        // Each game's labels start at the sum of the earlier games' legal-move counts, so
        // chunks of games can write theirs concurrently.
        std::vector<py::ssize_t> offset(static_cast<size_t>(n) + 1, 0);
        for (py::ssize_t i = 0; i < n; ++i)
            offset[i + 1] = offset[i] + static_cast<py::ssize_t>(game_at(i).legal.size());
        py::array_t<int64_t> labels(offset[n]);
        py::array_t<int64_t> counts(n);
        int64_t* lb = labels.mutable_data();
        int64_t* ct = counts.mutable_data();
        std::vector<int> collisions(static_cast<size_t>(n), -1);
        const LabelTable& label_of = label_table();
        {
            py::gil_scoped_release release;
            parallel_for(n, threads_, [&](py::ssize_t first, py::ssize_t last) {
                std::memset(mk + first * kActions, 0,
                            static_cast<size_t>(last - first) * kActions * sizeof(bool));
                for (py::ssize_t i = first; i < last; ++i) {
                    const Game& g = game_at(i);
                    write_features(g.board.pos, o + i * kPlanes * 81);
                    const int color = g.board.turn();
                    tm[i] = static_cast<int8_t>(color);
                    pl[i] = static_cast<int32_t>(g.moves.size());
                    ct[i] = static_cast<int64_t>(g.legal.size());
                    bool* row = mk + i * kActions;
                    int64_t* row_moves = mo + i * kActions;
                    int64_t* out = lb + offset[i];
                    for (const int move : g.legal) {
                        const int label = label_of(move, color);
                        if (row[label]) collisions[i] = static_cast<int>(begin + i);
                        row[label] = true;
                        row_moves[label] = move;
                        *out++ = label;
                    }
                    pack_bits(o + i * kPlanes * 81, kPlanes * 81, ob + i * kObsBytes);
                    pack_bits(reinterpret_cast<const uint8_t*>(row), kActions, mb + i * kMaskBytes);
                }
            });
        }
        int collision = -1;
        for (const int c : collisions)
            if (c >= 0) {
                collision = c;
                break;
            }
        return py::make_tuple(labels, counts, collision);
    }

    std::string sfen(int i) { return game(i).board.toSFEN(); }
    std::vector<int> moves(int i, int start) {
        const auto& m = game(i).moves;
        start = std::clamp(start, 0, static_cast<int>(m.size()));
        return std::vector<int>(m.begin() + start, m.end());
    }
    std::vector<int> legal_moves(int i) { return game(i).legal; }
    int ply(int i) { return static_cast<int>(game(i).moves.size()); }

    // Heap and object bytes of all games, estimated from container sizes (the C++ side of
    // `keisei bench memory`'s per-game figure; tracemalloc sees only Python's).
    size_t memory_bytes() const {
        size_t total = 0;
        for (const auto& g : games_) {
            const size_t node = 2 * sizeof(void*) + sizeof(unsigned long long) + sizeof(int);
            total += sizeof(Game) + g->moves.capacity() * sizeof(int) + g->checks.capacity() +
                     g->legal.capacity() * sizeof(int) +
                     (g->first_ply.bucket_count() + g->repeats.bucket_count()) * sizeof(void*) +
                     (g->first_ply.size() + g->repeats.size()) * node +
                     g->moves.size() * sizeof(std::pair<Move, StateInfo>);  // cshogi's history
        }
        return total;
    }

private:
    std::vector<std::unique_ptr<Game>> games_;
    int threads_;

    void check_range(py::ssize_t begin, py::ssize_t count) const {
        if (begin < 0 || count < 0 || begin + count > size())
            throw std::out_of_range("games " + std::to_string(begin) + ".." + std::to_string(begin + count - 1) +
                                    " are outside 0.." + std::to_string(size() - 1));
    }

    Game& game(int i) {
        if (i < 0 || i >= size())
            throw std::out_of_range("game " + std::to_string(i) + " is outside 0.." + std::to_string(size() - 1));
        return *games_[i];
    }
};

}  // namespace

PYBIND11_MODULE(_games, m) {
    m.doc() = "N cshogi games stepped in one C++ loop (see keisei.env).";
    initTable();
    Position::initZobrist();
    m.attr("NUM_PLANES") = kPlanes;
    m.attr("NUM_ACTIONS") = kActions;
    py::class_<GameBatch>(m, "GameBatch")
        .def(py::init<int, int>(), py::arg("num_games"), py::arg("threads") = 1)
        .def("__len__", &GameBatch::size)
        .def_property_readonly("threads", &GameBatch::threads)
        .def("set_game", &GameBatch::set_game, py::arg("game"), py::arg("sfen"))
        .def("push", &GameBatch::push, py::arg("moves"), py::arg("max_plies"), py::arg("winner"),
             py::arg("reason"), py::arg("begin") = 0)
        .def("push_one", &GameBatch::push_one, py::arg("game"), py::arg("move"), py::arg("max_plies") = 0)
        .def("observe", &GameBatch::observe, py::arg("obs"), py::arg("mask"), py::arg("move_of"),
             py::arg("to_move"), py::arg("plies"), py::arg("obs_bits"), py::arg("mask_bits"),
             py::arg("begin") = 0, py::arg("count") = -1)
        .def("sfen", &GameBatch::sfen, py::arg("game"))
        .def("moves", &GameBatch::moves, py::arg("game"), py::arg("start") = 0)
        .def("legal_moves", &GameBatch::legal_moves, py::arg("game"))
        .def("ply", &GameBatch::ply, py::arg("game"))
        .def("memory_bytes", &GameBatch::memory_bytes);
}
