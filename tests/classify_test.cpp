// The onnx engine with real models and real photos: EfficientNet-Lite0
// (ImageNet, converted at pull time) and open_nsfw (a thin ResNet-50 in NHWC,
// BGR, probabilities out), through the registry, a per-thread classifier and
// the batching engine.
#include <gtest/gtest.h>
#include <stb/stb_image.h>
#include <webp/encode.h>
#include <webp/mux.h>

#include <algorithm>
#include <thread>

#include "engines/onnx/image.h"
#include "resident/classification.h"
#include "resident/registry.h"
#include "test_support.h"

namespace resident {
namespace {

using testing::efficientnet_path;
using testing::read_bytes;
using testing::ScratchDir;
using testing::test_photo;

ModelSpec classifier_spec(const std::string& path) {
    ModelSpec s;
    s.source = path;
    s.engine = "onnx";
    s.task = Task::kClassify;
    s.threads = testing::threads();
    s.parallel = 4;
    return s;
}

ImageRequest photo(const std::string& name, int32_t top_k = 5) {
    return {read_bytes(test_photo(name)), top_k};
}

bool is_cat(const std::string& label) {
    return label.starts_with("tabby") || label.starts_with("tiger cat") ||
           label.starts_with("Egyptian cat");
}

// A test photo's RGB pixels, as stb_image decodes them.
struct Rgb {
    std::vector<unsigned char> pixels;
    int width = 0;
    int height = 0;
};

Rgb decode_photo(const std::string& name) {
    const std::string file = read_bytes(test_photo(name));
    Rgb out;
    int n = 0;
    unsigned char* p =
        stbi_load_from_memory(reinterpret_cast<const unsigned char*>(file.data()),
                              static_cast<int>(file.size()), &out.width, &out.height, &n, 3);
    EXPECT_NE(p, nullptr) << name;
    if (p) out.pixels.assign(p, p + static_cast<size_t>(out.width) * out.height * 3);
    stbi_image_free(p);
    return out;
}

// A test photo encoded as WebP by libwebp's encoder: lossless (the very
// pixels of the source) when quality < 0, else lossy at that quality.
std::string webp_of(const std::string& name, float quality) {
    const Rgb rgb = decode_photo(name);
    uint8_t* out = nullptr;
    const size_t n =
        quality < 0
            ? WebPEncodeLosslessRGB(rgb.pixels.data(), rgb.width, rgb.height, rgb.width * 3, &out)
            : WebPEncodeRGB(rgb.pixels.data(), rgb.width, rgb.height, rgb.width * 3, quality, &out);
    EXPECT_GT(n, 0u) << "libwebp could not encode " << name;
    std::string webp(reinterpret_cast<const char*>(out), n);
    WebPFree(out);
    return webp;
}

// A lossless two-frame animation: the photo, then a black frame.
std::string animated_webp_of(const std::string& name) {
    const Rgb rgb = decode_photo(name);
    WebPAnimEncoderOptions options;
    EXPECT_TRUE(WebPAnimEncoderOptionsInit(&options));
    WebPAnimEncoder* enc = WebPAnimEncoderNew(rgb.width, rgb.height, &options);
    WebPConfig config;
    EXPECT_TRUE(WebPConfigInit(&config));
    config.lossless = 1;
    const std::vector<unsigned char> black(rgb.pixels.size(), 0);
    int timestamp = 0;
    for (const auto* frame : {&rgb.pixels, &black}) {
        WebPPicture pic;
        EXPECT_TRUE(WebPPictureInit(&pic));
        pic.use_argb = 1;
        pic.width = rgb.width;
        pic.height = rgb.height;
        EXPECT_TRUE(WebPPictureImportRGB(&pic, frame->data(), rgb.width * 3));
        EXPECT_TRUE(WebPAnimEncoderAdd(enc, &pic, timestamp, &config));
        WebPPictureFree(&pic);
        timestamp += 100;
    }
    EXPECT_TRUE(WebPAnimEncoderAdd(enc, nullptr, timestamp, nullptr));
    WebPData data;
    WebPDataInit(&data);
    EXPECT_TRUE(WebPAnimEncoderAssemble(enc, &data));
    std::string webp(reinterpret_cast<const char*>(data.bytes), data.size);
    WebPDataClear(&data);
    WebPAnimEncoderDelete(enc);
    return webp;
}

// A WebP file of one chunk (RIFF container, WEBP, the chunk, padded to even).
std::string riff_webp(const std::string& fourcc, const std::string& payload) {
    auto le32 = [](uint32_t v) {
        return std::string{static_cast<char>(v & 0xff), static_cast<char>((v >> 8) & 0xff),
                           static_cast<char>((v >> 16) & 0xff), static_cast<char>(v >> 24)};
    };
    std::string chunk = fourcc + le32(static_cast<uint32_t>(payload.size())) + payload;
    if (chunk.size() % 2) chunk += '\0';
    return "RIFF" + le32(static_cast<uint32_t>(4 + chunk.size())) + "WEBP" + chunk;
}

// Scores of two outcomes equal to the float, class by class.
void expect_same(const Classification& a, const Classification& b, const std::string& what) {
    ASSERT_EQ(a.top.size(), b.top.size()) << what;
    for (size_t i = 0; i < a.top.size(); ++i) {
        EXPECT_EQ(a.top[i].index, b.top[i].index) << what << " rank " << i;
        EXPECT_EQ(a.top[i].score, b.top[i].score) << what << " rank " << i;
    }
}

TEST(Classify, RealPhotosGetTheirImageNetClasses) {
    Registry registry;
    auto model = registry.acquire(classifier_spec(efficientnet_path()));
    ASSERT_TRUE(model.is_ok()) << model.status().to_string();
    EXPECT_EQ((*model)->classes(), 1000);
    auto c = (*model)->create_classifier(classifier_spec(efficientnet_path()));
    ASSERT_TRUE(c.is_ok()) << c.status().to_string();

    auto coffee = (*c)->classify(photo("coffee.png"));
    ASSERT_TRUE(coffee.is_ok()) << coffee.status().to_string();
    EXPECT_EQ(coffee->top[0].label, "espresso");
    EXPECT_GT(coffee->top[0].score, 0.5f);
    EXPECT_EQ(coffee->top.size(), 5u);
    EXPECT_EQ(coffee->width, 600);
    EXPECT_EQ(coffee->height, 400);
    for (size_t i = 1; i < coffee->top.size(); ++i)
        EXPECT_GE(coffee->top[i - 1].score, coffee->top[i].score);

    auto cat = (*c)->classify(photo("chelsea.png", 3));
    ASSERT_TRUE(cat.is_ok()) << cat.status().to_string();
    EXPECT_TRUE(is_cat(cat->top[0].label)) << cat->top[0].label;
    EXPECT_EQ(cat->top.size(), 3u);
}

TEST(Classify, BadImagesFailTheirOwnRowsAndLoseNothing) {
    Registry registry;
    auto model = registry.acquire(classifier_spec(efficientnet_path()));
    ASSERT_TRUE(model.is_ok()) << model.status().to_string();
    auto c = (*model)->create_classifier(classifier_spec(efficientnet_path()));
    ASSERT_TRUE(c.is_ok());
    const std::string png = read_bytes(test_photo("chelsea.png"));
    // A BMP header claiming 30000 x 30000 pixels: refused before decoding.
    std::string huge = std::string("BM") + std::string(12, '\0');
    const int32_t header[] = {40, 30000, 30000};
    huge += std::string(reinterpret_cast<const char*>(header), sizeof(header));
    huge += std::string("\x01\x00\x18\x00", 4) + std::string(24, '\0');
    std::vector<ImageRequest> requests = {
        {"", 5},                         // empty
        photo("coffee.png"),             // good
        {png.substr(0, 3000), 5},        // truncated
        {"just some text", 5},           // not an image
        {huge, 5},                       // too large
        photo("chelsea.png", 2000),      // top_k beyond the classes
        {std::string(4096, '\xff'), 5},  // noise
        photo("chelsea.png"),            // good
    };
    auto out = (*c)->classify_all(requests);
    ASSERT_EQ(out.size(), requests.size());
    for (size_t i : {0, 2, 3, 4, 5, 6}) {
        ASSERT_FALSE(out[i].is_ok()) << "row " << i;
        EXPECT_EQ(out[i].status().code(), StatusCode::kInvalidArgument) << "row " << i;
    }
    EXPECT_NE(out[0].status().message().find("empty"), std::string::npos);
    EXPECT_NE(out[2].status().message().find("PNG"), std::string::npos)
        << out[2].status().message();
    EXPECT_NE(out[3].status().message().find("not an image"), std::string::npos);
    EXPECT_NE(out[4].status().message().find("30000 x 30000"), std::string::npos)
        << out[4].status().message();
    EXPECT_NE(out[5].status().message().find("top_k"), std::string::npos);
    ASSERT_TRUE(out[1].is_ok());
    ASSERT_TRUE(out[7].is_ok());
    EXPECT_EQ(out[1]->top[0].label, "espresso");
    EXPECT_TRUE(is_cat(out[7]->top[0].label));
    // The batch gives what one image alone gives, to the float.
    auto alone = (*c)->classify(photo("chelsea.png"));
    ASSERT_TRUE(alone.is_ok());
    expect_same(*out[7], *alone, "chelsea in a batch vs alone");
}

TEST(Classify, WebPPhotosClassifyLikeTheirSources) {
    Registry registry;
    const ModelSpec spec = classifier_spec(efficientnet_path());
    auto model = registry.acquire(spec);
    ASSERT_TRUE(model.is_ok()) << model.status().to_string();
    auto c = (*model)->create_classifier(spec);
    ASSERT_TRUE(c.is_ok());
    for (const char* name : {"coffee.png", "chelsea.png", "rocket.jpg"}) {
        auto source = (*c)->classify(photo(name));
        ASSERT_TRUE(source.is_ok()) << name;
        // Lossless: the very pixels of the source, so the very scores.
        const std::string lossless = webp_of(name, -1);
        ASSERT_TRUE(lossless.starts_with("RIFF"));
        auto same = (*c)->classify({lossless, 5});
        ASSERT_TRUE(same.is_ok()) << name << ": " << same.status().to_string();
        expect_same(*same, *source, std::string(name) + " as lossless WebP");
        EXPECT_EQ(same->width, source->width);
        EXPECT_EQ(same->height, source->height);
        // Lossy at a photo's usual quality: the same class; for the cat, whose
        // source is near a tie of breeds (tiger cat 0.41, Egyptian cat 0.34), a cat.
        auto lossy = (*c)->classify({webp_of(name, 80), 5});
        ASSERT_TRUE(lossy.is_ok()) << name << ": " << lossy.status().to_string();
        if (std::string(name) == "chelsea.png") {
            EXPECT_TRUE(is_cat(lossy->top[0].label)) << lossy->top[0].label;
        } else {
            EXPECT_EQ(lossy->top[0].label, source->top[0].label) << name << " as lossy WebP";
        }
    }
    // An animation is classified by its first frame, as a GIF is.
    auto first = (*c)->classify({animated_webp_of("coffee.png"), 5});
    ASSERT_TRUE(first.is_ok()) << first.status().to_string();
    auto still = (*c)->classify(photo("coffee.png"));
    ASSERT_TRUE(still.is_ok());
    expect_same(*first, *still, "an animated WebP's first frame");
}

TEST(Classify, CorruptTruncatedAndOversizedWebPsFailTheirOwnRows) {
    Registry registry;
    const ModelSpec spec = classifier_spec(efficientnet_path());
    auto model = registry.acquire(spec);
    ASSERT_TRUE(model.is_ok()) << model.status().to_string();
    auto c = (*model)->create_classifier(spec);
    ASSERT_TRUE(c.is_ok());
    const std::string lossless = webp_of("chelsea.png", -1);
    const std::string lossy = webp_of("chelsea.png", 80);
    // A VP8L header claiming 16383 x 16383 pixels (the most WebP allows),
    // with no pixels after it: refused from the header, before decoding.
    const uint32_t side = 16383 - 1, bits = side | (side << 14);
    std::string vp8l = "\x2f";
    for (int i = 0; i < 4; ++i) vp8l += static_cast<char>((bits >> (8 * i)) & 0xff);
    // An animation whose canvas is as large, its header only.
    std::string vp8x = std::string("\x02\0\0\0", 4);  // flags: animation
    for (int i = 0; i < 2; ++i) vp8x += std::string("\xfe\x3f\0", 3);
    std::string scrambled = lossless;  // the bitstream's middle inverted
    for (size_t i = 40; i < scrambled.size() - 40; ++i)
        scrambled[i] = static_cast<char>(~scrambled[i]);
    std::string scrambled_lossy = lossy;
    for (size_t i = 40; i < scrambled_lossy.size() / 2; ++i)
        scrambled_lossy[i] = static_cast<char>(scrambled_lossy[i] * 7 + 3);
    std::vector<ImageRequest> requests = {
        {lossless.substr(0, lossless.size() / 2), 5},             // 0 truncated
        {lossless.substr(0, 12), 5},                              // 1 the container only
        {lossless.substr(0, 30), 5},                              // 2 the header only
        {riff_webp("VP8L", vp8l), 5},                             // 3 too large
        {riff_webp("VP8X", vp8x), 5},                             // 4 too large, animated
        {riff_webp("VP8 ", std::string(64, '\x55')), 5},          // 5 not a VP8 bitstream
        {std::string("II*\0", 4) + std::string(200, '\x01'), 5},  // 6 TIFF
        {std::string("\0\0\0\x18"
                     "ftypheic",
                     12) +
             std::string(200, '\0'),
         5},                   // 7 HEIC
        {lossless, 5},         // 8 good
        {scrambled, 5},        // 9 corrupt: fails or decodes
        {scrambled_lossy, 5},  // 10 corrupt: fails or decodes
        {lossy, 5},            // 11 good
    };
    auto out = (*c)->classify_all(requests);
    ASSERT_EQ(out.size(), requests.size());
    for (size_t i : {0, 1, 2, 3, 4, 5, 6, 7}) {
        ASSERT_FALSE(out[i].is_ok()) << "row " << i;
        EXPECT_EQ(out[i].status().code(), StatusCode::kInvalidArgument) << "row " << i;
    }
    for (size_t i : {0, 1, 2, 5}) {
        EXPECT_NE(out[i].status().message().find("WebP"), std::string::npos)
            << "row " << i << ": " << out[i].status().message();
    }
    EXPECT_NE(out[0].status().message().find("truncated"), std::string::npos)
        << out[0].status().message();
    for (size_t i : {3, 4}) {
        EXPECT_NE(out[i].status().message().find("16383 x 16383"), std::string::npos)
            << "row " << i << ": " << out[i].status().message();
    }
    for (size_t i : {6, 7}) {
        const std::string m = out[i].status().message();
        EXPECT_NE(m.find(i == 6 ? "TIFF" : "HEIC"), std::string::npos) << m;
        EXPECT_NE(m.find("not supported: use JPEG, PNG, BMP, GIF or WebP"), std::string::npos) << m;
    }
    for (size_t i : {9, 10}) {
        EXPECT_TRUE(out[i].is_ok() || out[i].status().code() == StatusCode::kInvalidArgument)
            << "row " << i << ": " << out[i].status().to_string();
    }
    ASSERT_TRUE(out[8].is_ok()) << out[8].status().to_string();
    ASSERT_TRUE(out[11].is_ok()) << out[11].status().to_string();
    EXPECT_TRUE(is_cat(out[8]->top[0].label)) << out[8]->top[0].label;
    EXPECT_TRUE(is_cat(out[11]->top[0].label)) << out[11]->top[0].label;
}

TEST(Classify, TheBatchEngineServesManyThreadsWithTheLoneClassifiersScores) {
    Registry registry;
    const ModelSpec spec = classifier_spec(efficientnet_path());
    auto model = registry.acquire(spec);
    ASSERT_TRUE(model.is_ok()) << model.status().to_string();
    const std::vector<std::string> names = {"coffee.png", "chelsea.png", "rocket.jpg",
                                            "motorcycle_left.png", "astronaut.png"};
    auto lone = (*model)->create_classifier(spec);
    ASSERT_TRUE(lone.is_ok());
    std::vector<Classification> want;
    for (const auto& n : names) {
        auto r = (*lone)->classify(photo(n));
        ASSERT_TRUE(r.is_ok()) << n;
        want.push_back(*r);
    }
    auto engine = (*model)->create_classify_engine(spec);
    ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
    constexpr int kThreads = 4, kPerThread = 10;
    std::vector<std::vector<Result<Classification>>> got(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            std::vector<std::future<Result<Classification>>> fs;
            for (int i = 0; i < kPerThread; ++i)
                fs.push_back((*engine)->submit(photo(names[(t + i) % names.size()])));
            fs.push_back((*engine)->submit({"not an image", 5}));
            for (auto& f : fs) got[t].push_back(f.get());
        });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t) {
        ASSERT_EQ(got[t].size(), static_cast<size_t>(kPerThread + 1));
        for (int i = 0; i < kPerThread; ++i) {
            ASSERT_TRUE(got[t][i].is_ok()) << got[t][i].status().to_string();
            expect_same(*got[t][i], want[(t + i) % names.size()], names[(t + i) % names.size()]);
        }
        EXPECT_EQ(got[t].back().status().code(), StatusCode::kInvalidArgument);
    }
    const ClassifyEngineStats st = (*engine)->stats();
    EXPECT_EQ(st.submitted, kThreads * (kPerThread + 1));
    EXPECT_EQ(st.completed, kThreads * kPerThread);
    EXPECT_EQ(st.failed, kThreads);
    EXPECT_LE(st.max_batch, spec.parallel);
    EXPECT_GE(st.run_calls, kThreads * kPerThread / spec.parallel);
    std::printf("batch engine: %lld images in %lld calls, largest batch %d\n",
                static_cast<long long>(st.completed), static_cast<long long>(st.run_calls),
                st.max_batch);
    (*engine)->shutdown();
    auto after = (*engine)->submit(photo("coffee.png"));
    EXPECT_EQ(after.get().status().code(), StatusCode::kCancelled);
}

TEST(Classify, DecodedPixelsInSparksLayoutScoreLikeTheFile) {
    Registry registry;
    const ModelSpec spec = classifier_spec(efficientnet_path());
    auto model = registry.acquire(spec);
    ASSERT_TRUE(model.is_ok());
    auto c = (*model)->create_classifier(spec);
    ASSERT_TRUE(c.is_ok());
    const std::string file = read_bytes(test_photo("chelsea.png"));
    int w = 0, h = 0, n = 0;
    unsigned char* rgb = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(file.data()),
                                               static_cast<int>(file.size()), &w, &h, &n, 3);
    ASSERT_NE(rgb, nullptr);
    ImageRequest raw;
    raw.width = w;
    raw.height = h;
    raw.channels = 4;  // BGRA, as Spark's image source gives an image with alpha
    for (int i = 0; i < w * h; ++i) {
        raw.bytes += static_cast<char>(rgb[i * 3 + 2]);
        raw.bytes += static_cast<char>(rgb[i * 3 + 1]);
        raw.bytes += static_cast<char>(rgb[i * 3]);
        raw.bytes += '\xff';
    }
    stbi_image_free(rgb);
    auto from_pixels = (*c)->classify(raw);
    auto from_file = (*c)->classify({file, 5});
    ASSERT_TRUE(from_pixels.is_ok()) << from_pixels.status().to_string();
    ASSERT_TRUE(from_file.is_ok());
    expect_same(*from_pixels, *from_file, "pixels vs file");
    EXPECT_EQ(from_pixels->width, w);
    // Pixels that do not match their stated size fail that image only.
    raw.height += 1;
    auto bad = (*c)->classify(raw);
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(bad.status().message().find("bytes"), std::string::npos) << bad.status().message();
}

TEST(Classify, ConcurrentFirstUsesLoadTheModelOnce) {
    Registry registry;
    const ModelSpec spec = classifier_spec(efficientnet_path());
    std::vector<std::thread> threads;
    std::vector<ModelHandle> handles(4);
    for (size_t i = 0; i < handles.size(); ++i) {
        threads.emplace_back([&, i] {
            auto m = registry.acquire(spec);
            if (m.is_ok()) handles[i] = *m;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(registry.total_loads(), 1);
    for (const auto& h : handles) EXPECT_EQ(h.get(), handles[0].get());
}

TEST(Classify, OpenNsfwTakesBgrImagesInNhwcAndGivesProbabilities) {
    const std::string path = testing::catalog_model_path("open-nsfw");
    ASSERT_FALSE(path.empty()) << "run `resident models pull open-nsfw`";
    Registry registry;
    auto model = registry.acquire(classifier_spec(path));
    ASSERT_TRUE(model.is_ok()) << model.status().to_string();
    EXPECT_EQ((*model)->classes(), 2);
    EXPECT_NE((*model)->placement().find("NHWC"), std::string::npos) << (*model)->placement();
    auto c = (*model)->create_classifier(classifier_spec(path));
    ASSERT_TRUE(c.is_ok());
    auto r = (*c)->classify(photo("coffee.png", 2));
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    EXPECT_EQ(r->top[0].label, "sfw");
    EXPECT_NEAR(r->top[0].score + r->top[1].score, 1.0f, 1e-4f);
}

TEST(Classify, EachEngineRefusesTheOthersTask) {
    Registry registry;
    auto image = registry.acquire(classifier_spec(efficientnet_path()));
    ASSERT_TRUE(image.is_ok());
    EXPECT_EQ((*image)->create_predictor(classifier_spec(efficientnet_path())).status().code(),
              StatusCode::kInvalidArgument);
    auto text = registry.acquire(testing::small_spec());
    ASSERT_TRUE(text.is_ok());
    auto c = (*text)->create_classifier(testing::small_spec());
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(c.status().message().find("engine onnx"), std::string::npos);
    // A spec that mixes them is refused before any work.
    ModelSpec mixed = classifier_spec(efficientnet_path());
    mixed.task = Task::kGenerate;
    EXPECT_EQ(mixed.validate().code(), StatusCode::kInvalidArgument);
}

TEST(Classify, BrokenModelFilesAndSidecarsAreClearErrors) {
    ScratchDir dir;
    const std::string junk = dir.write("junk.onnx", std::string(1000, 'x'));
    Registry registry;
    auto bad = registry.acquire(classifier_spec(junk));
    ASSERT_FALSE(bad.is_ok());
    EXPECT_EQ(bad.status().code(), StatusCode::kDataLoss) << bad.status().to_string();

    // The real model beside a sidecar with the wrong number of labels.
    const std::string copy = dir.file("model.onnx");
    std::filesystem::copy_file(efficientnet_path(), copy);
    dir.write("model.onnx.resident.json", R"({"labels": ["a", "b"]})");
    auto mislabelled = registry.acquire(classifier_spec(copy));
    ASSERT_FALSE(mislabelled.is_ok());
    EXPECT_NE(mislabelled.status().message().find("2 labels"), std::string::npos)
        << mislabelled.status().to_string();
    dir.write("model.onnx.resident.json", R"({"preprocess": {"crop": -3}})");
    auto badprep = registry.acquire(classifier_spec(copy));
    EXPECT_EQ(badprep.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(badprep.status().message().find("preprocess.crop"), std::string::npos)
        << badprep.status().to_string();
    // No sidecar: ImageNet defaults and numbered classes.
    std::filesystem::remove(dir.file("model.onnx.resident.json"));
    auto plain = registry.acquire(classifier_spec(copy));
    ASSERT_TRUE(plain.is_ok()) << plain.status().to_string();
    auto c = (*plain)->create_classifier(classifier_spec(copy));
    auto r = (*c)->classify(photo("coffee.png", 1));
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r->top[0].label.rfind("class ", 0), 0u) << r->top[0].label;
}

TEST(ImagePreprocess, ParsesAndRejectsFieldsByName) {
    auto p = ImagePreprocess::from_json(
        R"({"resize": 0, "crop": 160, "mean": [1, 2, 3], "std": [4, 5, 6], "channels": "BGR",
            "scores": "probabilities"})",
        "test");
    ASSERT_TRUE(p.is_ok()) << p.status().to_string();
    EXPECT_EQ(p->resize, 0);
    EXPECT_EQ(p->crop, 160);
    EXPECT_TRUE(p->bgr);
    EXPECT_FALSE(p->softmax);
    EXPECT_EQ(p->std[2], 6.f);
    auto again = ImagePreprocess::from_json(p->to_json(), "round trip");
    ASSERT_TRUE(again.is_ok());
    EXPECT_EQ(again->to_json(), p->to_json());
    for (const char* bad : {R"({"std": [1, 0, 1]})", R"({"channels": "RGBA"})",
                            R"({"mean": [1, 2]})", R"({"colour": 1})", R"([1])"}) {
        EXPECT_EQ(ImagePreprocess::from_json(bad, "test").status().code(),
                  StatusCode::kInvalidArgument)
            << bad;
    }
}

TEST(ImagePreprocess, LayoutChannelOrderAndNormalisationFollowTheSpec) {
    // A 2 x 1 PNG would need an encoder; a 2 x 2 BMP is written by hand.
    // Pixels (B,G,R in the file, bottom-up): red, green / blue, white.
    std::string bmp = "BM";
    const int32_t file_header[] = {70, 0, 54};
    bmp += std::string(reinterpret_cast<const char*>(file_header), sizeof(file_header));
    const int32_t info[] = {40, 2, 2};
    bmp += std::string(reinterpret_cast<const char*>(info), sizeof(info));
    bmp += std::string("\x01\x00\x18\x00", 4) + std::string(24, '\0');
    // Bottom row first: blue, white; then top row: red, green (4-byte padded rows).
    bmp += std::string("\xff\x00\x00\xff\xff\xff\x00\x00", 8);
    bmp += std::string("\x00\x00\xff\x00\xff\x00\x00\x00", 8);
    ImagePreprocess spec;
    spec.resize = 0;
    spec.mean = {0, 0, 0};
    spec.std = {255, 255, 255};
    auto nchw = internal::onnx::prepare_image({bmp}, spec, 2, 2);
    ASSERT_TRUE(nchw.is_ok()) << nchw.status().to_string();
    // Planes R, G, B; pixels top-left, top-right, bottom-left, bottom-right.
    const std::vector<float> want_nchw = {1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1, 1};
    EXPECT_EQ(nchw->values, want_nchw);
    spec.nchw = false;
    spec.bgr = true;
    auto nhwc = internal::onnx::prepare_image({bmp}, spec, 2, 2);
    ASSERT_TRUE(nhwc.is_ok());
    const std::vector<float> want_nhwc = {0, 0, 1, 0, 1, 0, 1, 0, 0, 1, 1, 1};
    EXPECT_EQ(nhwc->values, want_nhwc);
}

}  // namespace
}  // namespace resident
